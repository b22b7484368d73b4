"""An interaction delivered more than once is handled once: the first process to claim it.

Two processes logged in with one token each receive every interaction. Here two real
bots, each with its own engine and harness, share one simulated Discord and one
database, and the same `/cart add` payload reaches both at the same moment; and within
one process, the same payload arrives twice.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest

from bot.app import StorefrontBot
from bot.runtime import build_storefront
from bot.settings import Settings
from bot.testing import DiscordHarness, FakeDiscord, FakeMember, payloads
from bot.testing.records import APPLICATION_COMMAND, InteractionResult
from bot.testing.storefront import storefront_offline
from store.db.engine import Database
from tests.bot.conftest import Shopfront, _free_port, make_settings, workers_settled
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


def _callbacks(result: InteractionResult) -> int:
    """Interaction responses the bot sent (a second one would fail: already acknowledged)."""
    return sum(1 for call in result.calls if call.path.endswith("/callback"))


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_same_interaction_delivered_twice_is_answered_once(
    shopfront: Shopfront, caplog: pytest.LogCaptureFixture
) -> None:
    """A duplicate delivery in one process adds nothing and sends no second answer."""
    caplog.set_level(logging.INFO)
    front = shopfront
    first = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    assert first.embed["title"] == "Added to your cart"
    again = await front.harness.send(first, strict=False)
    assert _callbacks(again) == 1
    cart = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert cart.item_count == 1
    assert any("claimed by another process" in r.getMessage() for r in caplog.records)
    assert _errors(caplog) == []


def _cart_add(harness: DiscordHarness, world: FakeDiscord, member: FakeMember) -> InteractionResult:
    """One `/cart add paid-1m` interaction as Discord sends it to every session on a token."""
    channel = next(iter(world.guilds[member.guild_id].channels.values()))
    data = harness.commands.build(
        "cart", ("add",), {"item": "paid-1m"}, guild_id=member.guild_id, user_id=member.id
    )
    result = InteractionResult(
        id=world.new_id(),
        token=f"itoken-twice-{world.new_id()}",
        user_id=member.id,
        channel_id=channel.id,
        guild_id=member.guild_id,
        name="cart add",
        world=world,
    )
    result.payload = payloads.interaction_payload(
        world,
        interaction_id=result.id,
        token=result.token,
        type=APPLICATION_COMMAND,
        user=member.user,
        channel=channel,
        data=data,
    )
    return result


async def test_two_copies_arriving_together_in_one_process_are_answered_once(
    shopfront: Shopfront, caplog: pytest.LogCaptureFixture
) -> None:
    """Both copies are read in the same turn (one claim batch): one line, one answer."""
    front = shopfront
    twice = _cart_add(front.harness, front.world, front.alice)
    await asyncio.gather(
        front.harness.send(twice, strict=False), front.harness.send(twice, strict=False)
    )
    cart = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert cart.item_count == 1
    assert _callbacks(twice) == 1
    assert _errors(caplog) == []


async def _two_bots(
    database_url: str, world: FakeDiscord, clock: FakeClock, stack: AsyncExitStack
) -> list[tuple[StorefrontBot, DiscordHarness]]:
    """Two processes of one deployment: same settings and guild, own engines and ports."""
    started = []
    for _ in range(2):
        data = make_settings(database_url, _free_port()).model_dump(mode="python")
        data["discord"]["token"] = "offline-token"
        front = build_storefront(Settings(**data), clock=clock)
        harness = await stack.enter_async_context(storefront_offline(front, world))
        await workers_settled(front)
        started.append((front.bot, harness))
    return started


async def test_two_processes_receiving_one_interaction_change_the_cart_once(
    database: Database, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The same /cart add reaches two processes at once: one line, one answer, no error."""
    caplog.set_level(logging.INFO)
    world = FakeDiscord()
    guild = world.add_guild("Storefront Test")
    alice = guild.add_member("alice")
    async with AsyncExitStack() as stack:
        (bot_a, harness_a), (_, harness_b) = await _two_bots(database_url, world, clock, stack)
        twice = _cart_add(harness_a, world, alice)
        await asyncio.gather(
            harness_a.send(twice, strict=False), harness_b.send(twice, strict=False)
        )
        cart = await bot_a.shop.carts.view(guild.id, alice.id)
    assert cart.item_count == 1
    assert _callbacks(twice) == 1
    assert twice.embed["title"] == "Added to your cart"
    assert _errors(caplog) == []
