"""Start-up and tear-down of the harness around a real client."""

from __future__ import annotations

import asyncio

import pytest
from discord.webhook.async_ import AsyncWebhookAdapter
from harness_toy_bot import ToyBot

from bot.testing import DiscordHarness, FakeDiscord, FakeMember, offline

pytestmark = pytest.mark.asyncio


async def test_start_makes_the_client_ready(harness: DiscordHarness) -> None:
    """Offline login, READY and GUILD_CREATE leave the client ready with its guild cached."""
    client = harness.client
    assert client.is_ready() and client.user is not None
    assert client.user.id == harness.world.bot_user.id
    guild = client.get_guild(harness.world.guild.id)
    assert (
        guild is not None
        and guild.chunked
        and len(guild.members) == len(harness.world.guild.members)
    )


async def test_start_runs_setup_hook_and_on_ready(harness: DiscordHarness) -> None:
    """setup_hook registered the persistent view and on_ready ran before start returned."""
    assert isinstance(harness.client, ToyBot) and harness.client.ready_seen
    assert harness.client.persistent_views


async def test_login_calls_are_logged(harness: DiscordHarness) -> None:
    """The two login calls are captured in the start-up activity."""
    assert [c.path for c in harness.startup.calls] == ["/users/@me", "/oauth2/applications/@me"]


async def test_close_restores_patches(world: FakeDiscord) -> None:
    """Closing the harness removes the instance shadow, the class patch and the task factory."""
    original = AsyncWebhookAdapter.request
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    bot = ToyBot()
    async with offline(bot, world):
        assert AsyncWebhookAdapter.request is not original
    assert AsyncWebhookAdapter.request is original
    assert "request" not in vars(bot.http)
    assert loop.get_task_factory() is factory
    assert bot.is_closed()


async def test_two_harnesses_run_side_by_side(world: FakeDiscord, alice: FakeMember) -> None:
    """Webhook calls reach the fake of the client that made them."""
    other_world = FakeDiscord()
    carol = other_world.add_guild().add_member("carol")
    async with offline(ToyBot(), world) as first, offline(ToyBot(), other_world) as second:
        one = await first.slash(alice, "echo", text="one")
        two = await second.slash(carol, "echo", text="two")
    assert (one.embed["description"], two.embed["description"]) == ("one", "two")
    assert len(first.log) == len(second.log) == 3


async def test_member_join_reaches_listeners(harness: DiscordHarness) -> None:
    """A GUILD_MEMBER_ADD fed through the parser adds the member to discord.py's cache."""
    dave = harness.world.guild.add_member("dave")
    await harness.member_join(dave)
    guild = harness.client.get_guild(harness.world.guild.id)
    assert guild is not None and guild.get_member(dave.id) is not None


async def test_posted_panel_works_after_restart(harness: DiscordHarness, alice: FakeMember) -> None:
    """A DynamicItem on a message posted before start-up still answers (persistent custom_id)."""
    row = {
        "type": 1,
        "components": [{"type": 2, "style": 1, "label": "Count 4", "custom_id": "counter:4"}],
    }
    panel = harness.world.post_message(
        harness.world.guild.channel("general"), "count is 4", components=[row]
    )
    await harness.press(alice, panel, "counter:4")
    assert panel.content == "count is 5"
