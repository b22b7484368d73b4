"""Two sharded storefront bots on one PostgreSQL database, as two processes would run.

Each bot is a ShardedStorefrontBot running one of two shards, in its own offline harness
over one fake Discord: guild A lives on shard 0, guild B on shard 1, so Discord sends
each guild's interactions to one bot only. Both run every worker; the database's claims
keep each reminder, expiry and effect to one delivery.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import ShardedStorefrontBot, StorefrontBot
from bot.runtime import Storefront, build_storefront
from bot.settings import Settings
from bot.testing import (
    DiscordHarness,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    NotOnThisShard,
    on_shard,
)
from bot.testing.storefront import storefront_offline
from bot.workers import Periodic
from store.db.engine import Database
from store.db.schema import effects
from tests.bot.conftest import _free_port, make_settings, workers_settled
from tests.support import FakeClock

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

SHARDS = 2


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """Only PostgreSQL: the database several processes share."""
    return postgres_database


@dataclass
class Process:
    front: Storefront
    harness: DiscordHarness
    url: str

    @property
    def bot(self) -> StorefrontBot:
        return self.front.bot

    def worker(self, name: str) -> Periodic:
        return next(w for w in self.front.workers if w.name == name)


@dataclass
class Sharded:
    world: FakeDiscord
    guilds: list[FakeGuild]  # guild A on shard 0, guild B on shard 1
    processes: list[Process]  # process i runs shard i
    roles: list[int]  # the paid role in guild A, the premium role in guild B
    http: aiohttp.ClientSession

    @property
    def harnesses(self) -> list[DiscordHarness]:
        return [p.harness for p in self.processes]

    def member(self, guild: int, name: str) -> FakeMember:
        return next(m for m in self.guilds[guild].members.values() if m.name == name)

    def dms(self, member: FakeMember) -> list[str]:
        return [
            str(embed.get("title", ""))
            for message in self.world.dms(member.id)
            for embed in message.embeds
        ]

    async def outbox_empty(self) -> None:
        outbox = self.processes[0].bot.shop.outbox
        for _ in range(500):
            if await outbox.pending_count() == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("effects were not delivered")


@pytest_asyncio.fixture
async def sharded(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Sharded]:
    world = FakeDiscord()
    guilds = [world.add_guild(f"Guild {n}", shard=(n, SHARDS)) for n in range(SHARDS)]
    for guild in guilds:
        guild.add_member("alice")
        guild.add_member("bob")
    paid = guilds[0].add_role("Paid")
    premium = guilds[1].add_role("Premium")
    audit = guilds[0].add_text_channel("shop-audit")
    processes: list[Process] = []
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        for shard in range(SHARDS):
            port = _free_port()
            data = make_settings(database_url, port, audit_channel_id=audit.id).model_dump()
            data["memberships"]["paid"]["role_id"] = paid.id
            data["memberships"]["premium"]["role_id"] = premium.id
            data["discord"].update(token="offline-token", shard_count=SHARDS, shard_ids=[shard])
            front = build_storefront(Settings(**data), clock=clock)
            harness = await stack.enter_async_context(storefront_offline(front, world))
            await workers_settled(front)
            processes.append(Process(front, harness, f"http://127.0.0.1:{port}"))
        yield Sharded(world, guilds, processes, [paid.id, premium.id], http)


async def test_each_process_holds_only_the_guilds_of_its_shard(sharded: Sharded) -> None:
    for shard, process in enumerate(sharded.processes):
        assert isinstance(process.bot, ShardedStorefrontBot)
        assert (process.bot.shard_count, process.bot.shard_ids) == (SHARDS, [shard])
        assert [g.id for g in process.bot.guilds] == [sharded.guilds[shard].id]
        cached = process.bot.get_guild(sharded.guilds[shard].id)
        assert cached is not None and cached.shard_id == shard


async def test_an_interaction_is_answered_by_the_process_running_its_guild(
    sharded: Sharded,
) -> None:
    for shard in range(SHARDS):
        alice = sharded.member(shard, "alice")
        harness = on_shard(sharded.harnesses, alice)
        assert harness is sharded.processes[shard].harness
        added = await harness.slash(alice, "cart", "add", item="points-100")
        assert added.embed["title"] == "Added to your cart"
        other = sharded.processes[1 - shard].harness
        with pytest.raises(NotOnThisShard):
            await other.slash(alice, "cart", "add", item="points-100")
    for shard in range(SHARDS):
        bot = sharded.processes[shard].bot
        cart = await bot.shop.carts.view(
            sharded.guilds[shard].id, sharded.member(shard, "alice").id
        )
        assert [(line.sku, line.quantity) for line in cart.lines] == [("points-100", 1)]


async def test_a_purchase_completes_in_the_guild_of_each_shard(sharded: Sharded) -> None:
    """Browse, add, check out, pay and get the role, once through each process."""
    for shard, process in enumerate(sharded.processes):
        alice, sku = sharded.member(shard, "alice"), ("paid-1m", "premium-6m")[shard]
        h = process.harness
        browse = await h.slash(alice, "shop")
        item = await h.select(alice, browse, "shop:pick", [sku])
        await h.press(alice, item, f"shop:add:{sku}")
        checkout = await h.slash(alice, "checkout")
        [pay] = [c for row in checkout.components for c in row["components"]]
        assert pay["url"].startswith(process.url)
        session_id = pay["url"].rsplit("/", 1)[1]
        paid = await sharded.http.post(f"{process.url}/fake-gateway/sessions/{session_id}/pay")
        assert paid.status == 200
        await process.bot.gateway.drain()  # type: ignore[attr-defined]
        await sharded.outbox_empty()
        assert sharded.roles[shard] in sharded.world.member(alice.id).roles
        assert [t for t in sharded.dms(alice) if "Receipt" in t] != []


async def test_a_role_in_a_guild_on_the_other_shard_is_still_given(sharded: Sharded) -> None:
    """Any process may claim an effect; one for a guild it does not hold still lands."""
    bob = sharded.member(0, "bob")
    shop = sharded.processes[1].bot.shop
    await shop.grants.grant_time(sharded.guilds[0].id, 1, bob.id, "paid", "test", days=30)
    assert await sharded.processes[1].bot.deliverer.deliver_pending() >= 1
    assert sharded.roles[0] in sharded.world.member(bob.id).roles


async def test_a_receipt_sent_by_the_other_process_names_the_server(sharded: Sharded) -> None:
    """A DM about a guild this process does not hold still says which server it is from."""
    alice, guild = sharded.member(0, "alice"), sharded.guilds[0]
    shop = sharded.processes[1].bot.shop
    await shop.grants.grant_points(guild.id, 1, alice.id, 1000, "test")
    await shop.carts.add(guild.id, alice.id, "points-100")
    order = (await shop.orders.checkout(guild.id, alice.id, points=10**6)).order
    assert order.cash_due.amount == 0  # paid with points: its receipt waits in the outbox
    assert await sharded.processes[1].bot.deliverer.deliver_pending() >= 1
    [receipt] = [
        embed
        for message in sharded.world.dms(alice.id)
        for embed in message.embeds
        if "Receipt" in str(embed.get("title", ""))
    ]
    assert f"**{guild.name}**" in str(receipt)


async def test_reminders_and_expiries_are_delivered_once_by_two_processes(
    sharded: Sharded, clock: FakeClock
) -> None:
    """Both processes run the reminder, expiry and effects workers at the same moments."""
    shop = sharded.processes[0].bot.shop
    tiers = ("paid", "premium")
    reminded = [sharded.member(n, "alice") for n in range(SHARDS)]
    expiring = [sharded.member(n, "bob") for n in range(SHARDS)]
    for shard in range(SHARDS):
        guild = sharded.guilds[shard].id
        await shop.grants.grant_time(guild, 1, reminded[shard].id, tiers[shard], "t", days=40)
        await shop.grants.grant_time(guild, 1, expiring[shard].id, tiers[shard], "t", days=1)
    await kick_everywhere(sharded, "effects")
    await sharded.outbox_empty()
    for member, role in zip(expiring, sharded.roles, strict=True):
        assert role in sharded.world.member(member.id).roles
    clock.advance(days=38)  # alice: inside the 3-day reminder window; bob: expired

    await kick_everywhere(sharded, "reminders", "expiry")
    await kick_everywhere(sharded, "effects")
    await sharded.outbox_empty()

    async with shop.ctx.db.engine.connect() as conn:
        rows = (await conn.execute(select(effects))).all()
    assert all(r.outcome == "delivered" and r.attempts == 1 for r in rows), rows
    kinds = Counter((str(r.kind), int(r.member_id)) for r in rows)
    for member in reminded:
        assert kinds[("expiry_reminder", member.id)] == 1
        reminders = [t for t in sharded.dms(member) if "ends soon" in t]
        assert len(reminders) == 1, sharded.dms(member)
    for member, role in zip(expiring, sharded.roles, strict=True):
        assert kinds[("remove_role", member.id)] == 1
        assert role not in sharded.world.member(member.id).roles


async def kick_everywhere(sharded: Sharded, *names: str) -> None:
    """Wake these workers in both processes at once and wait for each to finish a pass."""
    workers = [p.worker(name) for p in sharded.processes for name in names]
    before = [w.runs for w in workers]
    for worker in workers:
        worker.kick()
    for _ in range(1000):
        if all(w.runs > runs for w, runs in zip(workers, before, strict=True)):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"workers {names} did not run in both processes")
