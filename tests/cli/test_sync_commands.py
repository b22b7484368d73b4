"""`storefront sync-commands` publishes commands only when asked, and says what it needs."""

from __future__ import annotations

import pytest

from bot.cli import main


def test_sync_without_a_token_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """No token, nothing to sync with: exit 1 and say which variable to set."""
    assert main(["sync-commands"]) == 1
    assert "STOREFRONT_DISCORD__TOKEN" in capsys.readouterr().err


def test_sync_without_guilds_asks_for_guild_ids_or_global(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guild sync needs discord.guild_ids; --global is the explicit alternative."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    assert main(["sync-commands"]) == 1
    assert "guild_ids" in capsys.readouterr().err
