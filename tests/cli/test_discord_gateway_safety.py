"""A real Discord token never meets the fake gateway by accident; production names its guilds.

Each command runs as the operator runs it (`storefront run`, `run --dry-run`,
`check-config`) with the configuration coming from the environment or ./config.toml.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.cli import main
from tests.cli.conftest import example_with

TOKEN = "tok-discord-safety"
REAL_GATEWAY = {
    "STOREFRONT_PAYMENTS__GATEWAY": "stripe",
    "STOREFRONT_PAYMENTS__STRIPE__API_KEY": "sk_test_safety",
    "STOREFRONT_PAYMENTS__STRIPE__WEBHOOK_SECRET": "whsec_safety",
}
COMMANDS = [["run", "--dry-run"], ["run"], ["check-config"]]


def _set(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_token_with_the_fake_gateway_is_refused(
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """One line naming payments.gateway and the opt-in, exit 2, no database touched."""
    _set(monkeypatch, STOREFRONT_DISCORD__TOKEN=TOKEN)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("config error: payments.gateway: the 'fake' gateway takes no money")
    assert "allow_with_discord = true" in err
    assert len(err.splitlines()) == 1
    assert not (isolated / "storefront.db").exists()


def test_an_opt_in_that_is_false_is_no_opt_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """allow_with_discord = false from the environment is read as false, not as text."""
    _set(
        monkeypatch,
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD="false",
    )
    assert main(["check-config"]) == 2
    assert "payments.gateway" in capsys.readouterr().err


def test_the_opt_in_is_printed_by_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the opt-in, run --dry-run goes ahead and its banner warns of test payments."""
    _set(
        monkeypatch,
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD="true",
    )
    assert main(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "mode: discord: bot token set" in out
    assert "WARNING: test payments: the 'fake' gateway takes no money" in out


def test_the_opt_in_in_the_file_is_printed_by_check_config(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The opt-in from config.toml is honoured and check-config says so."""
    (isolated / "config.toml").write_text(
        example_with("allow_with_discord = false", "allow_with_discord = true")
    )
    _set(monkeypatch, STOREFRONT_DISCORD__TOKEN=TOKEN)
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "# WARNING: test payments: the 'fake' gateway takes no money" in out


def test_the_opt_in_is_logged_as_a_warning_at_start(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """run (not a dry run) logs the opt-in at WARNING before it connects to Discord."""
    _set(
        monkeypatch,
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD="true",
    )
    with caplog.at_level(logging.WARNING):
        assert main(["run"]) == 1  # no Discord offline; the warning came first
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("test payments" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("argv", [["run", "--dry-run"], ["check-config"]], ids=" ".join)
def test_production_refuses_the_fake_gateway_even_when_opted_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """environment = "production" has no way around the refusal."""
    _set(
        monkeypatch,
        STOREFRONT_ENVIRONMENT="production",
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        STOREFRONT_DISCORD__GUILD_IDS="[111]",
        STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD="true",
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: payments.gateway: the fake gateway takes no money")
    assert len(err.splitlines()) == 1


def test_sandbox_with_a_token_needs_no_opt_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--sandbox never talks to Discord, so the fake gateway is fine and no warning is shown."""
    _set(monkeypatch, STOREFRONT_DISCORD__TOKEN=TOKEN)
    assert main(["run", "--sandbox", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "mode: sandbox (--sandbox)" in out
    assert "WARNING" not in out


@pytest.mark.parametrize("argv", [["run", "--dry-run"], ["check-config"]], ids=" ".join)
def test_production_needs_a_guild(
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """No guild_ids in production: one line naming discord.guild_ids, exit 2."""
    _set(
        monkeypatch,
        STOREFRONT_ENVIRONMENT="production",
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        **REAL_GATEWAY,
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: discord.guild_ids: production needs at least one guild")
    assert len(err.splitlines()) == 1
    assert not (isolated / "storefront.db").exists()


def test_the_run_banner_names_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A production deployment with a real gateway and its guild: the banner says production."""
    _set(
        monkeypatch,
        STOREFRONT_ENVIRONMENT="production",
        STOREFRONT_DISCORD__TOKEN=TOKEN,
        STOREFRONT_DISCORD__GUILD_IDS="[111, 222]",
        **REAL_GATEWAY,
    )
    assert main(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "environment: production" in out
    assert "payment gateway: stripe" in out
    assert "serving 111, 222" in out
    assert "WARNING" not in out
