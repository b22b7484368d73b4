"""`storefront check-config`: the effective configuration, secrets masked, or one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.cli import main
from tests.cli.conftest import example_with

TOKEN = "tok-4e1d9c0b-never-print-me"
WEBHOOK_SECRET = "whs-7a2f-never-print-me"
DB_PASSWORD = "pw-91c3-never-print-me"


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_")}
    return {**env, **extra}


def test_prints_the_effective_configuration_as_toml(capsys: pytest.CaptureFixture[str]) -> None:
    """The output reads back as TOML with the values in force."""
    assert main(["check-config"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["database"]["url"] == "sqlite+aiosqlite:///storefront.db"
    assert [item["sku"] for item in printed["store"]["items"]][:2] == ["paid-1m", "paid-2m"]


def test_shows_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value set in the environment is what check-config prints."""
    monkeypatch.setenv("STOREFRONT_WEB__PORT", "9100")
    assert main(["check-config"]) == 0
    assert tomllib.loads(capsys.readouterr().out)["web"]["port"] == 9100


def test_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Token, webhook secret and database password never appear, only the mask."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", TOKEN)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", f"postgresql://shop:{DB_PASSWORD}@db/shop")
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    for secret in (TOKEN, WEBHOOK_SECRET, DB_PASSWORD):
        assert secret not in out + err
    printed = tomllib.loads(out)
    assert printed["discord"]["token"] == "********"
    assert printed["payments"]["fake"]["webhook_secret"] == "********"


def test_secret_in_a_bad_value_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret pasted into the wrong variable is not repeated in the error."""
    monkeypatch.setenv("STOREFRONT_WEB__PORT", TOKEN)
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: web.port: ")
    assert TOKEN not in err


BAD_CONFIGS = [
    pytest.param(
        ("port = 8080", 'port = "eighty"'),
        "web.port: input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        ("pool_size = 10", "pool_size = 10\npoolsize = 3"),
        "database.poolsize: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        ("price = 500", "price = -500"),
        "store.items[1].price: price must be a positive amount in minor units",
        id="negative-price",
    ),
    pytest.param(
        ('sku = "paid-6m"', 'sku = "paid-2m"'),
        "store.items[2].sku: duplicate sku 'paid-2m' (already used by store.items[1])",
        id="duplicate-sku",
    ),
    pytest.param(
        ('tier = "premium"', 'tier = "gold"'),
        "store.items[4].tier: item 'premium-6m' names tier 'gold'",
        id="unknown-tier",
    ),
    pytest.param(
        ('kind = "points"', 'kind = "badge"'),
        "store.items[7].kind: unknown kind 'badge'",
        id="unknown-kind",
    ),
    pytest.param(
        ("months = 1\n", "\n"),
        "store.items[0]: set months or days, or permanent = true",
        id="membership-without-duration",
    ),
    pytest.param(
        ('currency = "USD"', 'currency = "XYZ"'),
        "store.currency: 'XYZ' is not an ISO 4217 currency code",
        id="bad-currency",
    ),
    pytest.param(
        ('url = "sqlite+aiosqlite:///storefront.db"', 'url = "mysql://shop@db/shop"'),
        "database.url: unsupported database 'mysql'",
        id="bad-database-url",
    ),
    pytest.param(
        ("[memberships.paid]", "[memberships.Paid]"),
        "memberships: tier name 'Paid' must be lower case",
        id="bad-tier-name",
    ),
    pytest.param(
        ('environment = "development"', 'environment = "staging"'),
        "environment: input should be 'development' or 'production'",
        id="bad-environment",
    ),
    pytest.param(
        ("[workers]", '[payments.stripe]\napi_key = "sk"\n\n[workers]'),
        "payments.stripe.api_key: secrets are read only from the environment",
        id="secret-in-file",
    ),
    pytest.param(
        ('gateway = "fake"', 'gateway = "fake"\ngatway = "stripe"'),
        "payments.gatway: unknown key",
        id="misspelt-payments-key",
    ),
    pytest.param(
        ('webhook_secret = "dev-only-fake-webhook-secret"', ""),
        "payments.fake.webhook_secret: required key is missing",
        id="gateway-option-missing",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), BAD_CONFIGS)
def test_bad_config_is_one_clear_error(
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[str, str],
    expected: str,
) -> None:
    """Each kind of mistake exits 2 with a message naming the key and the problem."""
    (isolated / "config.toml").write_text(example_with(*edit))
    assert main(["check-config"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"config error: {expected}")
    assert len(err.splitlines()) == 1


def test_invalid_toml_names_the_file_and_line(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A syntax error points at the file, line and column."""
    text = example_with("port = 8080", "port = = 8080")
    line = text.splitlines().index("port = = 8080") + 1
    (isolated / "shop.toml").write_text(text)
    assert main(["check-config", "--config", "shop.toml"]) == 2
    assert capsys.readouterr().err == (
        f"config error: shop.toml: invalid TOML at line {line}, column 8: invalid value\n"
    )


def test_missing_file_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--config naming a file that does not exist exits 2."""
    assert main(["check-config", "--config", "nowhere.toml"]) == 2
    assert capsys.readouterr().err == "config error: nowhere.toml: no such configuration file\n"


def test_console_script_reports_bad_config_without_traceback(isolated: Path) -> None:
    """The installed `storefront` command exits 2 with one line and no traceback."""
    (isolated / "config.toml").write_text(example_with("price = 500", "price = -500"))
    script = Path(sys.executable).with_name("storefront")
    result = subprocess.run(
        [str(script), "check-config"],
        cwd=isolated,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "config error: store.items[1].price: price must be a positive amount in minor units\n"
    )


def test_module_entry_point_masks_secrets(isolated: Path) -> None:
    """`python -m bot.cli check-config` runs and keeps environment secrets out of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config"],
        cwd=isolated,
        env=_child_env(
            STOREFRONT_DISCORD__TOKEN=TOKEN, STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD="true"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert 'token = "********"' in result.stdout


def test_shows_the_shards_in_force(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD", "true")
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", "2")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "# shards: all of 2 (this process serves" in out
    assert tomllib.loads(out)["discord"]["shard_count"] == 2
