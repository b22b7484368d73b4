"""What the harness keeps after an interaction, so a long run measures the bot, not the fake."""

from __future__ import annotations

import gc
import weakref

import pytest

from bot.testing import DiscordHarness, FakeMember

pytestmark = pytest.mark.asyncio


async def test_a_task_outliving_dispatch_does_not_keep_the_record(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """discord.py keeps an ephemeral view's timeout task for minutes; it copied the
    harness's context, which must not hold the interaction's record alive."""
    result = await harness.slash(alice, "gift")
    assert result.content == "choose"
    harness.forget(result)
    record = weakref.ref(result)
    del result
    gc.collect()
    assert record() is None


async def test_bot_token_calls_are_still_attributed_to_the_interaction(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """The weak reference still finds the record while the harness is dispatching it."""
    result = await harness.slash(alice, "dm")
    assert [(c.via, c.method, c.path) for c in result.calls if c.via == "bot"] == [
        ("bot", "POST", "/users/@me/channels"),
        ("bot", "POST", "/channels/{channel_id}/messages"),
    ]
    assert result.content == "check your DMs"


async def test_forget_drops_the_token_and_the_messages_it_created(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    result = await harness.slash(alice, "slow")
    message = result.final
    assert message is not None
    assert message in harness.messages("general", visible_to=alice)

    harness.forget(result)

    assert result.token not in harness.rest.interactions
    assert message.id not in harness.world.messages
    assert message not in harness.messages("general", visible_to=alice)
    assert result.final is None
    assert result.acknowledged  # the record itself stays readable


async def test_forget_keeps_the_message_a_component_updated(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    panel = await harness.slash(alice, "shop", "panel")
    pressed = await harness.press(alice, panel, "counter:0")
    harness.forget(pressed)
    source = panel.final
    assert source is not None and source.content == "count is 1"
    assert source.id in harness.world.messages
    again = await harness.press(alice, source, "counter:1")
    assert again.content == "count is 2"


async def test_forget_message_leaves_nothing_behind(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    channel = harness.world.guild.channel("general")
    kept = harness.world.post_message(channel, "kept")
    gone = harness.world.post_message(channel, "gone")
    harness.world.forget_message(gone)
    assert harness.world.channel_messages(channel.id) == [kept]
    assert gone.id not in harness.world.messages
    harness.world.forget_message(gone)  # twice is harmless
