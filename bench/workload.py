"""Driving a bot through the harness: the mixed workload, with latencies per interaction.

The same driver runs the real bot and the floor bot, so both see identical payloads.
Latency is from the payload entering discord.py to the member's final visible content
(the reply, the edit, or the followup after a defer).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bench.config import MIX
from bench.seed import LINES_PER_CART, member_id
from bench.shopfront import Guild, Panels, remove_id, remove_options
from bot.testing import DiscordHarness, FakeMember, InteractionResult

FAILURE_TITLE = "Something went wrong"
REFUSAL_TITLE = "Can't do that"


@dataclass(slots=True)
class Sample:
    op: str
    final_s: float | None
    ack_s: float | None
    acknowledged: bool
    outcome: str  # "ok", "refused", "error" (the bot's "something went wrong"), "failed"


@dataclass
class RunStats:
    samples: list[Sample] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s else 0.0

    def finals_ms(self) -> list[float]:
        return sorted(s.final_s * 1000 for s in self.samples if s.final_s is not None)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sample in self.samples:
            counts[sample.outcome] = counts.get(sample.outcome, 0) + 1
        return counts

    @property
    def failed(self) -> int:
        """Never acknowledged in time: the member saw "This interaction failed"."""
        return sum(1 for s in self.samples if s.outcome == "failed")


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def sample_of(op: str, result: InteractionResult) -> Sample:
    if not result.acknowledged or result.expired or result.final_at is None:
        outcome = "failed"
    else:
        titles = [embed.get("title") for embed in result.embeds]
        outcome = (
            "error" if FAILURE_TITLE in titles else "refused" if REFUSAL_TITLE in titles else "ok"
        )
    return Sample(op, result.final_latency, result.ack_latency, result.acknowledged, outcome)


class Driver:
    """Chooses members and operations and sends them through one harness."""

    def __init__(
        self,
        harness: DiscordHarness,
        guild: Guild,
        panels: Panels,
        members: int,
        *,
        seed: int,
        transient_members: bool = False,
        first: int = 0,
    ) -> None:
        self.harness = harness
        self.guild = guild
        self.panels = panels
        self.members = members
        #: The first member index this driver uses: drivers in several processes on one
        #: database take disjoint ranges [first, first + members).
        self.first = first
        #: Members leave the fake world after their interaction (see `Guild.visiting`).
        self.transient_members = transient_members
        self.rng = random.Random(seed)
        #: Known cart lines per member index (seeded lines first, then from replies).
        self.lines: dict[int, list[int]] = {}
        self._remove_cursor = 0
        self._checkout_cursor = members - 1

    def known_lines(self, index: int) -> list[int]:
        if index not in self.lines:
            first = index * LINES_PER_CART + 1
            self.lines[index] = list(range(first, first + LINES_PER_CART))
        return self.lines[index]

    def _learn(self, index: int, result: InteractionResult) -> None:
        found = remove_options(result.final, member_id(index))
        if found is not None:
            self.lines[index] = found

    def ops(self, count: int) -> Iterator[str]:
        names = [name for name, _ in MIX]
        weights = [share for _, share in MIX]
        for _ in range(count):
            yield self.rng.choices(names, weights)[0]

    def _next_with_lines(self) -> int:
        for _ in range(self.members):
            index = self.first + self._remove_cursor
            self._remove_cursor = (self._remove_cursor + 1) % self.members
            if self.known_lines(index):
                return index
        return self.first

    def _next_checkout(self) -> int:
        index = self.first + self._checkout_cursor
        self._checkout_cursor = (self._checkout_cursor - 1) % self.members
        return index

    async def run_op(self, op: str) -> Sample:
        rng = self.rng
        sku = rng.choice(self.panels.skus)
        if op == "remove":
            index = self._next_with_lines()
        elif op == "checkout":
            index = self._next_checkout()
        else:
            index = self.first + rng.randrange(self.members)
        if not self.transient_members:
            return await self._run_op(op, index, self.guild.member(index), sku)
        with self.guild.visiting(index) as member:
            return await self._run_op(op, index, member, sku)

    async def _run_op(self, op: str, index: int, member: FakeMember, sku: str) -> Sample:
        h, panels = self.harness, self.panels
        result: InteractionResult
        posted = None  # a cart message this operation posts for itself
        if op == "browse":
            result = await h.slash(member, "shop", strict=False)
        elif op == "item":
            menu = panels.shop_by_sku[sku]
            result = await h.select(member, menu, "shop:pick", [sku], strict=False)
        elif op == "add":
            result = await h.press(member, panels.items[sku], f"shop:add:{sku}", strict=False)
        elif op == "view":
            result = await h.slash(member, "cart", "view", strict=False)
        elif op == "remove":
            lines = self.known_lines(index)
            posted = panels.cart_message(member.id, lines)
            line = lines.pop(0)
            result = await h.select(member, posted, remove_id(member.id), [str(line)], strict=False)
        elif op == "checkout":
            posted = panels.cart_message(member.id, [])
            result = await h.press(member, posted, f"cart:checkout:{member.id}", strict=False)
            self.lines[index] = []
        else:
            raise ValueError(f"unknown operation {op!r}")
        if op in ("add", "view", "remove"):
            self._learn(index, result)
        sample = sample_of(op, result)
        # The member has read the answer: the fake Discord need not keep it (nor the cart
        # message posted for this click), or its memory would grow with every interaction.
        h.forget(result)
        if posted is not None:
            self.guild.world.forget_message(posted)
        return sample


async def run_closed_loop(
    ops: Iterator[str], run: Callable[[str], Awaitable[Sample]], concurrency: int
) -> RunStats:
    """`concurrency` members each send their next interaction as soon as the last is answered."""
    stats = RunStats()

    async def worker() -> None:
        for op in ops:  # a shared iterator: each op is taken exactly once
            stats.samples.append(await run(op))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.elapsed_s = time.perf_counter() - start
    return stats
