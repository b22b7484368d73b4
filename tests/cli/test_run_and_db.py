"""`storefront run` and `storefront db`: migrating the configured database, reporting the plan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.cli import head_revision, main


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def test_db_upgrade_creates_the_schema(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """db upgrade on a new SQLite file creates the tables and records the revision."""
    path = isolated / "shop.db"
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", f"sqlite+aiosqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    assert {"alembic_version", "orders", "ledger"} <= _tables(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            head_revision(),
        )
    assert f"at revision {head_revision()}" in capsys.readouterr().out


def test_db_upgrade_twice_is_harmless(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upgrading an up-to-date database succeeds and changes nothing."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", f"sqlite+aiosqlite:///{isolated / 'shop.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0


def test_db_current_reports_a_new_database_as_behind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """db current on a never-migrated database says to run db upgrade."""
    assert main(["db", "current"]) == 0
    assert "none (never migrated)" in capsys.readouterr().out


def test_run_on_defaults_migrates_and_reports_sandbox(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no file and no token, run migrates ./storefront.db and reports sandbox mode."""
    assert main(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "mode: sandbox (no Discord token)" in out
    assert "payment gateway: fake" in out
    assert "alembic_version" in _tables(isolated / "storefront.db")


def test_run_with_token_reports_discord_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token selects the real Discord connection; failing to log in is one clear line."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    assert main(["run"]) == 1
    out, err = capsys.readouterr()
    assert "mode: discord: bot token set" in out
    assert err.startswith("error: Discord ") and "Traceback" not in err


def test_dry_run_prints_the_shards_this_process_runs(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", "4")
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_IDS", "[0, 2]")
    assert main(["run", "--dry-run"]) == 0
    assert "shards: 0, 2 of 4 (this process serves the guilds whose" in capsys.readouterr().out


def test_dry_run_without_shard_settings_says_one_connection(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    assert main(["run", "--dry-run"]) == 0
    assert "shards: none (one connection for every guild)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        ([], "interactions: over HTTP at http://127.0.0.1:8080/interactions; no gateway "),
        (
            ["--gateway-events"],
            "interactions: over HTTP at http://127.0.0.1:8080/interactions; "
            "gateway connected for guild events",
        ),
    ],
)
def test_dry_run_says_where_interactions_over_http_arrive(
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    line: str,
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    monkeypatch.setenv("STOREFRONT_DISCORD__INTERACTIONS", "http")
    monkeypatch.setenv("STOREFRONT_DISCORD__PUBLIC_KEY", "ab" * 32)
    assert main(["run", "--dry-run", *flags]) == 0
    assert line in capsys.readouterr().out


def test_the_sandbox_runs_unsharded_whatever_the_shard_settings(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", "4")
    assert main(["run", "--dry-run"]) == 0
    assert "shards: not used by the sandbox" in capsys.readouterr().out


def test_run_sandbox_flag_wins_over_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--sandbox uses the simulated guild even when a token is set."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    assert main(["run", "--sandbox", "--dry-run"]) == 0
    assert "mode: sandbox (--sandbox)" in capsys.readouterr().out


def test_run_with_bad_config_touches_no_database(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configuration error stops run before the database file is created."""
    monkeypatch.setenv("STOREFRONT_WEB__PORT", "0")
    assert main(["run"]) == 2
    assert capsys.readouterr().err.startswith("config error: web.port: ")
    assert not (isolated / "storefront.db").exists()


def test_run_reports_an_unusable_database(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database that cannot be opened exits 1 with one line naming it."""
    url = f"sqlite+aiosqlite:///{isolated / 'missing-dir' / 'shop.db'}"
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", url)
    assert main(["run"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot use the database {url}: directory {isolated / 'missing-dir'} "
        "does not exist\n"
    )


def test_run_refuses_an_unmigrated_postgresql(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL is not migrated implicitly: run exits 1 and says to run db upgrade."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", empty_postgres_url)
    assert main(["run"]) == 1
    assert "run `storefront db upgrade` first" in capsys.readouterr().err


def test_run_starts_on_postgresql_after_db_upgrade(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After db upgrade, run accepts the PostgreSQL database."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", empty_postgres_url)
    assert main(["db", "upgrade"]) == 0
    assert main(["run", "--dry-run"]) == 0
    assert f"(migrated to {head_revision()})" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`storefront` alone prints usage and exits 2."""
    assert main([]) == 2
    assert "choose a command" in capsys.readouterr().err
