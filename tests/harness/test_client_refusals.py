"""What Discord's client would never send is refused in the test, before the bot sees it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing import DiscordHarness, FakeMember, RefusedByClient

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("command", "path", "options", "match"),
    [
        ("nope", (), {}, "no slash command /nope"),
        ("echo", (), {}, "required option missing"),
        ("echo", (), {"text": "x", "count": 6}, r"outside 1\.\.5"),
        ("echo", (), {"text": "x", "count": 0}, r"outside 1\.\.5"),
        ("echo", (), {"text": "x", "count": "2"}, "expected an integer"),
        ("echo", (), {"text": "x", "count": True}, "expected an integer"),
        ("echo", (), {"text": 3}, "expected a string"),
        ("echo", (), {"text": "x", "color": "green"}, "not among the choices"),
        ("echo", (), {"text": "x", "loud": True}, "unknown options"),
        ("echo", (), {"text": "x", "who": 12345}, "not a user"),
        ("shop", (), {}, "needs a subcommand"),
        ("shop", ("close",), {}, "no subcommand 'close'"),
    ],
)
async def test_slash_refuses(
    harness: DiscordHarness,
    alice: FakeMember,
    command: str,
    path: tuple[str, ...],
    options: dict[str, Any],
    match: str,
) -> None:
    """An option set Discord's client would not send raises RefusedByClient."""
    with pytest.raises(RefusedByClient, match=match):
        await harness.slash(alice, command, *path, options=options)
    assert harness.calls("POST", "/interactions/{webhook_id}/{webhook_token}/callback") == []


async def test_press_refuses_unknown_custom_id(harness: DiscordHarness, alice: FakeMember) -> None:
    """Pressing a custom_id that is not on the message is refused, naming those that are."""
    panel = await harness.slash(alice, "shop", "panel")
    with pytest.raises(RefusedByClient, match="counter:0"):
        await harness.press(alice, panel, "counter:9")


async def test_press_refuses_someone_elses_ephemeral(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """Nobody can press a button on another member's ephemeral message."""
    menu = await harness.slash(alice, "gift")
    with pytest.raises(RefusedByClient, match="cannot see"):
        await harness.press(bob, menu, "gift:note")


async def test_select_refuses_too_many_values(
    harness: DiscordHarness, alice: FakeMember, bob: FakeMember
) -> None:
    """A single-value select refuses two values."""
    menu = await harness.slash(alice, "gift")
    with pytest.raises(RefusedByClient, match="takes 1-1 values"):
        await harness.select(alice, menu, "gift:to", [alice, bob])


async def test_modal_refuses_missing_required_input(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """A required text input left empty cannot be submitted."""
    menu = await harness.slash(alice, "gift")
    opened = await harness.press(alice, menu, "gift:note")
    with pytest.raises(RefusedByClient, match="required"):
        await harness.submit_modal(alice, opened, {})


async def test_modal_refuses_too_long_input(harness: DiscordHarness, alice: FakeMember) -> None:
    """A value longer than the input's max_length cannot be submitted."""
    menu = await harness.slash(alice, "gift")
    opened = await harness.press(alice, menu, "gift:note")
    with pytest.raises(RefusedByClient, match="outside 0-50"):
        await harness.submit_modal(alice, opened, {"note": "x" * 51})


async def test_autocomplete_needs_an_autocomplete_option(
    harness: DiscordHarness, alice: FakeMember
) -> None:
    """Only options declared with autocomplete can be focused."""
    with pytest.raises(RefusedByClient, match="has no autocomplete"):
        await harness.autocomplete(alice, "echo", focused="text")
