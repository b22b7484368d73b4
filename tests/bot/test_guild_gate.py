"""The bot serves only the guilds in `discord.guild_ids`: everything else is refused at the door.

Two guilds share one bot: the shop's own, listed in the settings, and another one it was
also invited to. Members of the other guild reach the real bot through raw payloads like
anyone else; each kind of interaction is refused privately, the store is unchanged row for
row, and the guild is logged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.app import StorefrontBot
from bot.guild_gate import REFUSAL
from bot.runtime import build_storefront
from bot.settings import Settings
from bot.testing import DiscordHarness, FakeDiscord, FakeMember
from bot.testing import payloads as discord_payloads
from bot.testing.records import MODAL_SUBMIT, InteractionResult
from bot.testing.storefront import storefront_offline
from store.db.engine import Database
from store.db.schema import interaction_claims
from tests.bot.conftest import _free_port, make_settings, workers_settled
from tests.store.helpers import snapshot
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@dataclass
class TwoGuilds:
    harness: DiscordHarness
    world: FakeDiscord
    bot: StorefrontBot
    shop_guild: int
    other_guild: int
    alice: FakeMember
    eve: FakeMember
    eves_mod_role: int


async def _two_guilds(
    database_url: str, clock: FakeClock, *, serve_listed_only: bool
) -> AsyncIterator[TwoGuilds]:
    world = FakeDiscord()
    shop = world.add_guild("The Shop")
    mods = shop.add_role("Shop moderators")
    alice = shop.add_member("alice")
    other = world.add_guild("Somewhere Else")
    # A role with the shop's moderator role id cannot exist elsewhere, so give eve the
    # strongest claim another guild can make: Manage Server there.
    eves_mods = other.add_role("Admins", permissions=1 << 5)
    eve = other.add_member("eve", roles=[eves_mods.id])
    guild_ids = [shop.id] if serve_listed_only else []
    data = make_settings(
        database_url, _free_port(), moderator_role_ids=[mods.id], guild_ids=guild_ids
    ).model_dump(mode="python")
    data["discord"]["token"] = "offline-token"
    data["payments"]["fake"]["allow_with_discord"] = True
    front = build_storefront(Settings(**data), clock=clock)
    async with aiohttp.ClientSession(), storefront_offline(front, world) as harness:
        await workers_settled(front)
        yield TwoGuilds(harness, world, front.bot, shop.id, other.id, alice, eve, eves_mods.id)


@pytest_asyncio.fixture
async def guilds(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[TwoGuilds]:
    """The bot in two guilds; guild_ids names only the shop's."""
    async for built in _two_guilds(database_url, clock, serve_listed_only=True):
        yield built


@pytest_asyncio.fixture
async def open_guilds(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[TwoGuilds]:
    """The bot in two guilds with guild_ids empty (development): it serves both."""
    async for built in _two_guilds(database_url, clock, serve_listed_only=False):
        yield built


def _refused(result: InteractionResult) -> None:
    assert result.ephemeral
    assert result.embed["title"] == "Can't do that"
    assert result.embed["description"] == REFUSAL
    assert not result.embed.get("fields")  # not even the cart summary was read


COMMANDS: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    ("shop", (), {}),
    ("cart", ("add",), {"item": "paid-1m"}),
    ("checkout", (), {}),
    ("account", (), {}),
    ("shopadmin", ("points", "grant"), {"amount": 50, "reason": "me"}),
]


@pytest.mark.parametrize(("command", "path", "options"), COMMANDS)
async def test_a_command_from_another_guild_is_refused_and_changes_nothing(
    guilds: TwoGuilds,
    caplog: pytest.LogCaptureFixture,
    command: str,
    path: tuple[str, ...],
    options: dict[str, Any],
) -> None:
    """Every slash command from an unlisted guild gets the short private refusal."""
    if command == "shopadmin":
        options = {"member": guilds.eve, **options}
    before = await snapshot(guilds.bot.database)
    with caplog.at_level(logging.WARNING, logger="bot.guilds"):
        result = await guilds.harness.slash(guilds.eve, command, *path, options=options)
    _refused(result)
    assert await snapshot(guilds.bot.database) == before
    assert str(guilds.other_guild) in caplog.text


async def test_an_interaction_from_another_guild_costs_no_claim(guilds: TwoGuilds) -> None:
    """The gate refuses before the claim: a foreign guild's flood writes nothing at all."""
    await guilds.harness.slash(guilds.eve, "shop")
    claims = await guilds.bot.database.read(
        lambda conn: conn.execute(select(func.count()).select_from(interaction_claims))
    )
    assert claims.scalar_one() == 0


async def test_a_button_from_another_guild_is_refused_and_changes_nothing(
    guilds: TwoGuilds, caplog: pytest.LogCaptureFixture
) -> None:
    """The shop's own Add button, copied into another guild, adds nothing there."""
    channel = guilds.world.guilds[guilds.other_guild].channel("general")
    message = guilds.world.post_message(
        channel,
        components=[
            {
                "type": 1,
                "components": [
                    {"type": 2, "style": 1, "label": "Add", "custom_id": "shop:add:paid-1m"}
                ],
            }
        ],
    )
    before = await snapshot(guilds.bot.database)
    with caplog.at_level(logging.WARNING, logger="bot.guilds"):
        result = await guilds.harness.press(guilds.eve, message, "shop:add:paid-1m")
    _refused(result)
    assert await snapshot(guilds.bot.database) == before
    assert str(guilds.other_guild) in caplog.text


async def test_a_modal_from_another_guild_is_refused_and_changes_nothing(
    guilds: TwoGuilds, caplog: pytest.LogCaptureFixture
) -> None:
    """A gift-note modal submitted from another guild puts no gift in any cart."""
    world = guilds.world
    channel = world.guilds[guilds.other_guild].channel("general")
    interaction_id = world.new_id()
    custom_id = f"gift:modal:paid-1m:{guilds.alice.id}:0"
    result = InteractionResult(
        id=interaction_id,
        token=f"itoken-{interaction_id}",
        type=MODAL_SUBMIT,
        user_id=guilds.eve.id,
        channel_id=channel.id,
        guild_id=guilds.other_guild,
        name=custom_id,
        world=world,
    )
    result.payload = discord_payloads.interaction_payload(
        world,
        interaction_id=interaction_id,
        token=result.token,
        type=MODAL_SUBMIT,
        user=guilds.eve.user,
        channel=channel,
        data={
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "note", "value": "hi"}]}
            ],
        },
    )
    before = await snapshot(guilds.bot.database)
    with caplog.at_level(logging.WARNING, logger="bot.guilds"):
        await guilds.harness.send(result)
    _refused(result)
    assert await snapshot(guilds.bot.database) == before
    assert str(guilds.other_guild) in caplog.text


async def test_autocomplete_from_another_guild_offers_nothing(guilds: TwoGuilds) -> None:
    """Typing an item name in another guild lists no items."""
    result = await guilds.harness.autocomplete(
        guilds.eve, "cart", "add", focused="item", options={"item": "paid"}
    )
    assert result.choices == []


async def test_the_listed_guild_is_served(guilds: TwoGuilds) -> None:
    """The same command from the shop's own guild works: the gate is not a wall."""
    before = await snapshot(guilds.bot.database)
    result = await guilds.harness.slash(guilds.alice, "cart", "add", options={"item": "paid-1m"})
    assert result.embed["title"] == "Added to your cart"
    assert await snapshot(guilds.bot.database) != before
    choices = await guilds.harness.autocomplete(
        guilds.alice, "cart", "add", focused="item", options={"item": "paid"}
    )
    assert choices.choices


async def test_an_empty_guild_list_serves_every_guild_in_development(
    open_guilds: TwoGuilds,
) -> None:
    """With no guild_ids, development serves any guild the bot is in."""
    result = await open_guilds.harness.slash(
        open_guilds.eve, "cart", "add", options={"item": "paid-1m"}
    )
    assert result.embed["title"] == "Added to your cart"
    summary = await open_guilds.bot.shop.carts.view(open_guilds.other_guild, open_guilds.eve.id)
    assert summary.item_count == 1
