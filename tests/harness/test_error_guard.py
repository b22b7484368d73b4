"""The ERROR guard: a test in which discord.py logged an ERROR fails unless it opts out."""

from __future__ import annotations

import logging
import textwrap

import pytest

from bot.testing import DiscordHarness, FakeMember

pytest_plugins = ["pytester"]

INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
INNER_TEST = textwrap.dedent(
    """
    from typing import Any

    import discord
    import pytest
    from discord.ext import commands

    from bot.testing import offline


    class Crashing(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Crash", custom_id="crash")
        async def crash(self, interaction: Any, button: Any) -> None:
            raise RuntimeError("button crashed")


    class Bot(commands.Bot):
        def __init__(self) -> None:
            super().__init__(command_prefix="!", intents=discord.Intents.default())

        async def setup_hook(self) -> None:
            self.add_view(Crashing())


    @pytest.mark.asyncio
    async def test_press_crashing_button() -> None:
        async with offline(Bot()) as harness:
            guild = harness.world.guild
            member = guild.add_member("alice")
            row = {"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Crash", "custom_id": "crash"}]}
            general = guild.channel("general")
            message = harness.world.post_message(general, "panel", components=[row])
            await harness.press(member, message, "crash", strict=False)
    """
)


@pytest.mark.allow_discord_errors  # the inner run logs on the same "discord" logger
def test_guard_fails_a_test_whose_button_crashed(pytester: pytest.Pytester) -> None:
    """A crashing button callback (logged and swallowed by discord.py) fails the test."""
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=INNER_TEST)
    result = pytester.runpytest_inprocess("-p", "bot.testing.pytest_plugin", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*discord.py logged an ERROR*", "*RuntimeError: button crashed*"])


@pytest.mark.allow_discord_errors
def test_guard_passes_the_same_test_when_marked(pytester: pytest.Pytester) -> None:
    """The allow_discord_errors marker lets the same test pass."""
    pytester.makeini(INI + "markers =\n    allow_discord_errors: expected\n")
    marked = INNER_TEST.replace(
        "@pytest.mark.asyncio", "@pytest.mark.asyncio\n@pytest.mark.allow_discord_errors"
    )
    pytester.makepyfile(test_inner=marked)
    result = pytester.runpytest_inprocess("-p", "bot.testing.pytest_plugin", "-q")
    result.assert_outcomes(passed=1)


@pytest.mark.asyncio
@pytest.mark.allow_discord_errors
async def test_error_log_fixture_sees_the_crash(
    harness: DiscordHarness, alice: FakeMember, discord_error_log: list[logging.LogRecord]
) -> None:
    """The crashing persistent button's traceback is in discord_error_log."""
    panel = await harness.slash(alice, "persist")
    await harness.press(alice, panel, "persist:crash", strict=False)
    assert [str(r.exc_info[1]) for r in discord_error_log if r.exc_info] == ["button crashed"]
