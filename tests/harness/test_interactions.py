"""The toy bot driven through the harness: captured payloads and the fake world's state."""

from __future__ import annotations

import pytest

from bot.testing import DiscordHarness, DiscordLimitError, FakeMember, InteractionFailed

pytestmark = pytest.mark.asyncio

CALLBACK = "/interactions/{webhook_id}/{webhook_token}/callback"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"


async def test_slash_reply_carries_the_embed(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A slash command's typed options reach the bot and its embed reply is captured."""
    result = await harness.slash(alice, "echo", text="hi", count=2, who=bob, color="blue")
    [call] = harness.responses_to(result)
    assert (call.method, call.path, call.json["type"]) == ("POST", CALLBACK, 4)
    assert result.embed["description"] == "hihi"
    assert [f["value"] for f in result.embed["fields"]] == ["bob", "blue"]
    assert not result.ephemeral


async def test_reply_is_stored_in_the_channel(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A public reply is in the channel for everyone to see."""
    result = await harness.slash(alice, "echo", text="hi")
    assert harness.messages("general", visible_to=bob) == [result.message]


async def test_defer_then_followup_replaces_thinking(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """The first followup after a thinking defer edits the loading message, keeping it ephemeral."""
    result = await harness.slash(alice, "slow")
    assert [c.path for c in harness.responses_to(result)] == [CALLBACK, FOLLOWUP]
    assert result.callback_type == 5
    assert result.message is result.final
    assert (result.content, result.ephemeral, result.final.loading) == (
        "done thinking",
        True,
        False,
    )


async def test_ack_and_final_times_are_recorded(harness: DiscordHarness, alice: FakeMember) -> None:
    """Acknowledgement comes before the final content of a deferred command."""
    result = await harness.slash(alice, "slow")
    assert result.ack_latency is not None and result.final_latency is not None
    assert 0 <= result.ack_latency <= result.final_latency < 3


async def test_dynamic_item_press_edits_its_message(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A DynamicItem rebuilt from its custom_id updates the message it sits on (type 7)."""
    panel = await harness.slash(alice, "shop", "panel")
    press = await harness.press(bob, panel, "counter:0")
    assert press.callback_type == 7
    assert press.message is panel.message
    assert panel.message is not None and panel.message.content == "count is 1"
    assert panel.message.custom_ids() == ["counter:1"]


async def test_persistent_view_answers_only_the_presser(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """An ephemeral answer from a persistent view is visible only to the member who pressed."""
    panel = await harness.slash(alice, "persist")
    press = await harness.press(bob, panel, "persist:hello")
    assert press.callback is not None and press.callback["data"]["flags"] == 64
    assert press.final is not None
    assert press.final.visible_to(bob.id) and not press.final.visible_to(alice.id)


async def test_user_select_resolves_the_member(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A user select sends resolved member data the bot turns into a Member."""
    menu = await harness.slash(alice, "gift")
    picked = await harness.select(alice, menu, "gift:to", [bob])
    assert picked.content == "gift for bob"


async def test_modal_opens_and_submits(harness: DiscordHarness, alice: FakeMember) -> None:
    """A button opens a modal; submitting it reaches on_submit with the typed value."""
    menu = await harness.slash(alice, "gift")
    opened = await harness.press(alice, menu, "gift:note")
    assert opened.modal is not None and opened.modal["title"] == "Leave a note"
    submitted = await harness.submit_modal(alice, opened, {"note": "happy birthday"})
    assert submitted.content == "noted: happy birthday"


async def test_autocomplete_returns_choices(harness: DiscordHarness, alice: FakeMember) -> None:
    """Autocomplete answers with the bot's choices for the partial text."""
    result = await harness.autocomplete(alice, "fruit", focused="name", name="ap")
    assert result.choices == [
        {"name": "apple", "value": "apple"},
        {"name": "apricot", "value": "apricot"},
    ]


async def test_dm_lands_in_the_members_dm_pane(harness: DiscordHarness, alice: FakeMember) -> None:
    """A DM opens the DM channel, then posts the message there."""
    result = await harness.slash(alice, "dm")
    assert [c.path for c in result.calls if c.via == "bot"] == [
        "/users/@me/channels",
        "/channels/{channel_id}/messages",
    ]
    assert [m.content for m in harness.world.dms(alice.id)] == ["a private hello"]


async def test_closed_dms_raise_forbidden(harness: DiscordHarness, alice: FakeMember) -> None:
    """Closed DMs answer 403 with code 50007, which the bot sees as discord.Forbidden."""
    alice.user.dms_open = False
    result = await harness.slash(alice, "dm")
    assert result.content == "your DMs are closed"
    assert [c.error_code for c in result.calls if c.status == 403] == [50007]
    assert harness.world.dms(alice.id) == []


async def test_role_below_the_bot_is_added(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A role under the bot's top role is added to the member in the world."""
    role = harness.world.guild.role("Member")
    result = await harness.slash(alice, "grant", member=bob, role=role)
    assert result.content == "gave Member"
    assert harness.world.member(bob.id).roles == [role.id]


async def test_role_above_the_bot_is_refused(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A role above the bot's top role answers 403 code 50013 and changes nothing."""
    guild = harness.world.guild
    role = guild.add_role("Admin", position=guild.bot_role.position + 1)
    result = await harness.slash(alice, "grant", member=bob, role=role)
    assert result.content == "cannot: code 50013"
    assert bob.roles == []


@pytest.mark.allow_discord_errors
async def test_raising_command_is_an_interaction_failure(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """A command that raises and never answers fails the test as "This interaction failed"."""
    with pytest.raises(InteractionFailed):
        await harness.slash(alice, "boom")


@pytest.mark.allow_discord_errors
async def test_raising_command_is_recorded_unanswered(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """With strict off the result shows the interaction was never acknowledged."""
    result = await harness.slash(alice, "boom", strict=False)
    assert not result.acknowledged and result.calls == []


@pytest.mark.allow_discord_errors
async def test_over_limit_reply_fails_the_test(harness: DiscordHarness, alice: FakeMember) -> None:
    """Content over 2000 characters is answered 400 and raised in the test."""
    with pytest.raises(DiscordLimitError, match=r"data\.content: 2001 characters, at most 2000"):
        await harness.slash(alice, "toolong")
    [call] = harness.calls("POST", CALLBACK)
    assert (call.status, call.error_code) == (400, 50035)


async def test_command_in_dm_has_no_member(harness: DiscordHarness, alice: FakeMember) -> None:
    """A slash command from the bot's DM reaches the bot as a DM interaction."""
    result = await harness.slash(alice.user, "echo", text="hi")
    assert result.guild_id is None
    assert (
        result.final is not None
        and result.final.channel_id == harness.world.dm_channel(alice.id).id
    )
