"""Several payment gateways at once: `[payments] gateways`, beside the older `gateway`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import SettingsError, check_discord_gateway, load_settings
from tests.cli.conftest import example_with

STRIPE_SECRETS = {
    "STOREFRONT_PAYMENTS__STRIPE__API_KEY": "sk_test_gateways",
    "STOREFRONT_PAYMENTS__STRIPE__WEBHOOK_SECRET": "whsec_gateways",
}


def _file(isolated: Path, old: str, new: str) -> None:
    (isolated / "config.toml").write_text(example_with(old, new))


def _stripe_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STRIPE_SECRETS.items():
        monkeypatch.setenv(name, value)


def test_gateways_lists_every_enabled_gateway_first_is_default(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gateways = ["stripe", "fake"] enables both; the first is the default."""
    _stripe_secrets(monkeypatch)
    _file(isolated, 'gateway = "fake"\n', 'gateways = ["stripe", "fake"]\n')
    settings = load_settings()
    assert settings.payments.enabled == ("stripe", "fake")
    assert settings.payments.gateway == "stripe"


def test_the_single_gateway_key_still_means_one_gateway() -> None:
    """gateway = "fake" alone is gateways = ["fake"]."""
    assert load_settings().payments.enabled == ("fake",)


def test_gateway_beside_gateways_must_be_one_of_them(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both in one file: gateway outside the list is one clear line naming the key."""
    _stripe_secrets(monkeypatch)
    _file(isolated, 'gateway = "fake"\n', 'gateway = "fake"\ngateways = ["stripe"]\n')
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.problems == [
        "payments.gateway: 'fake' is not one of payments.gateways (stripe); remove "
        "payments.gateway (the first of payments.gateways is the default) or add it to the list"
    ]


def test_gateway_beside_gateways_inside_the_list_is_accepted(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gateway among gateways is fine; the first of gateways stays the default."""
    _stripe_secrets(monkeypatch)
    _file(isolated, 'gateway = "fake"\n', 'gateway = "fake"\ngateways = ["stripe", "fake"]\n')
    assert load_settings().payments.gateway == "stripe"


@pytest.mark.parametrize(
    ("listed", "problem"),
    [
        ('["fake", "fake"]', "payments.gateways: 'fake' is listed twice"),
        ('["fake", "paypal"]', "payments.gateways: payment gateway 'paypal' is not installed"),
        ("[]", "payments.gateways: name at least one gateway"),
        ('["Fake"]', "payments.gateways: 'Fake' is not a gateway name"),
    ],
    ids=["duplicate", "unknown", "empty", "bad-name"],
)
def test_bad_gateway_lists_are_refused_in_one_line(
    isolated: Path, listed: str, problem: str
) -> None:
    """Duplicates, unknown names, an empty list: one line naming payments.gateways."""
    _file(isolated, 'gateway = "fake"\n', f"gateways = {listed}\n")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(problem)


def test_gateways_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOREFRONT_PAYMENTS__GATEWAYS='["fake","stripe"]' enables both."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAYS", '["fake","stripe"]')
    assert load_settings().payments.enabled == ("fake", "stripe")


def test_gateways_from_the_environment_beat_the_files_single_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shipped defaults say gateway = "fake"; the environment's list replaces it."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAYS", '["stripe"]')
    settings = load_settings()
    assert settings.payments.enabled == ("stripe",)


def test_the_single_gateway_from_the_environment_beats_the_files_list(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STOREFRONT_PAYMENTS__GATEWAY over a file's gateways list: the environment wins."""
    _stripe_secrets(monkeypatch)
    _file(isolated, 'gateway = "fake"\n', 'gateways = ["fake", "stripe"]\n')
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAY", "stripe")
    assert load_settings().payments.enabled == ("stripe",)


def test_every_enabled_gateways_table_is_validated(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second gateway without its required options stops the start, naming the key."""
    _file(isolated, 'gateway = "fake"\n', 'gateways = ["fake", "stripe"]\n')
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "payments.stripe.api_key: required key is missing" in raised.value.problems


def test_production_refuses_a_no_money_gateway_among_several(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake gateway second in the list is refused in production all the same."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_ENVIRONMENT", "production")
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_DISCORD__GUILD_IDS", "[1]")
    _file(isolated, 'gateway = "fake"\n', 'gateways = ["stripe", "fake"]\n')
    with pytest.raises(SettingsError, match=r"^payments\.gateways: the fake gateway takes no"):
        load_settings()


def test_the_discord_token_check_applies_to_each_gateway(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real gateway first does not let the fake one serve real members unopted."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    _file(isolated, 'gateway = "fake"\n', 'gateways = ["stripe", "fake"]\n')
    with pytest.raises(SettingsError, match=r"^payments\.gateways: the 'fake' gateway takes no"):
        check_discord_gateway(load_settings())


def test_run_names_every_enabled_gateway(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run --dry-run prints the gateways, the default marked."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAYS", '["stripe","fake"]')
    assert main(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "payment gateways: stripe (default), fake; members choose at checkout" in out


def test_check_config_prints_the_gateways(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config shows the gateways list in the effective configuration."""
    _stripe_secrets(monkeypatch)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAYS", '["stripe","fake"]')
    assert main(["check-config"]) == 0
    assert 'gateways = ["stripe", "fake"]' in capsys.readouterr().out
