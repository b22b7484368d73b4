"""Loading the configuration: sources, precedence, secrets and cross-section checks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel, SecretStr

from bot.settings import MASK, Settings, SettingsError, load_settings, mask_url
from tests.cli.conftest import EXAMPLE, REPO, example_with


def test_defaults_come_from_the_example_without_a_file() -> None:
    """With no file anywhere the shipped example applies, sample catalog included."""
    settings = load_settings()
    assert settings.source.startswith("built-in defaults")
    assert settings.database.url == "sqlite+aiosqlite:///storefront.db"
    assert settings.payments.gateway == "fake"
    assert len(settings.catalog) == 10
    assert set(settings.memberships) == {"paid", "premium"}


def test_packaged_defaults_are_the_example_file() -> None:
    """bot/defaults.toml is a verbatim copy of config.example.toml."""
    assert (REPO / "bot" / "defaults.toml").read_bytes() == EXAMPLE.read_bytes()


def _documented_fields(model: type[BaseModel], path: str = "") -> Iterator[tuple[str, str]]:
    for name, field in model.model_fields.items():
        yield path, name
        annotation = field.annotation
        inner = get_args(annotation)[-1] if get_args(annotation) else annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _documented_fields(inner, f"{path}.{name}".lstrip("."))


def test_example_documents_every_setting() -> None:
    """Each setting appears in config.example.toml, set or commented out."""
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [
        f"{path}.{name}".lstrip(".")
        for path, name in _documented_fields(Settings)
        if path  # sections themselves appear as [tables]
        and not re.search(rf"^(# )?{name} =", text, re.MULTILINE)
        and f"[[{path}.{name}]]" not in text
    ]
    assert missing == []


def test_sample_catalog_prices_follow_dreamwidth() -> None:
    """The sample catalog carries the reference shop's prices in minor units."""
    prices = {item.sku: item.price.amount for item in load_settings().catalog}
    assert prices == {
        "paid-1m": 300,
        "paid-2m": 500,
        "paid-6m": 1300,
        "paid-12m": 2500,
        "premium-6m": 2000,
        "premium-12m": 4000,
        "seed": 20000,
        "points-100": 1000,
        "points-500": 5000,
        "points-1000": 10000,
    }


def test_config_toml_in_the_working_directory_is_used(isolated: Path) -> None:
    """./config.toml is picked up when no path is given."""
    (isolated / "config.toml").write_text(example_with('name = "Storefront"', 'name = "Local"'))
    settings = load_settings()
    assert settings.store.name == "Local"
    assert settings.source == "config.toml"


def test_storefront_config_variable_names_the_file(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STOREFRONT_CONFIG wins over ./config.toml."""
    (isolated / "config.toml").write_text(example_with('name = "Storefront"', 'name = "Local"'))
    other = isolated / "other.toml"
    other.write_text(example_with('name = "Storefront"', 'name = "Other"'))
    monkeypatch.setenv("STOREFRONT_CONFIG", str(other))
    assert load_settings().store.name == "Other"


def test_environment_overrides_a_nested_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOREFRONT_DATABASE__URL replaces database.url."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", "sqlite+aiosqlite:///other.db")
    assert load_settings().database.url == "sqlite+aiosqlite:///other.db"


def test_environment_beats_the_file(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key set in both the file and the environment takes the environment's value."""
    path = isolated / "shop.toml"
    path.write_text(example_with("port = 8080", "port = 9000"))
    monkeypatch.setenv("STOREFRONT_WEB__PORT", "9100")
    assert load_settings(path).web.port == 9100


def test_environment_merges_into_a_gateway_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway option from the environment joins the file's table instead of replacing it."""
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__WEBHOOK_SECRET", "from-env")
    options = load_settings().payments.gateway_options()
    assert options["webhook_secret"] == "from-env"
    assert options["max_delivery_attempts"] == 5


def test_list_from_the_environment_is_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOREFRONT_DISCORD__GUILD_IDS takes a JSON list."""
    monkeypatch.setenv("STOREFRONT_DISCORD__GUILD_IDS", "[111, 222]")
    assert load_settings().discord.guild_ids == [111, 222]


def test_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token in the environment ends sandbox mode."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    settings = load_settings()
    assert settings.discord.token == SecretStr("tok")
    assert not settings.sandbox_mode


def test_token_in_a_file_is_refused(isolated: Path) -> None:
    """A token in the file is an error that names the variable to use, not the value."""
    path = isolated / "shop.toml"
    path.write_text('[discord]\ntoken = "file-token-value"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "discord.token" in str(caught.value)
    assert "STOREFRONT_DISCORD__TOKEN" in str(caught.value)
    assert "file-token-value" not in str(caught.value)


def test_gateway_secret_in_a_file_is_refused(isolated: Path) -> None:
    """Real gateways' secret options must come from the environment."""
    path = isolated / "shop.toml"
    path.write_text('[payments.stripe]\napi_key = "sk_test_value"\n')
    with pytest.raises(SettingsError, match=r"payments\.stripe\.api_key: secrets are read only"):
        load_settings(path)


def test_masked_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """masked() replaces the token, gateway secrets and the database password."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", "postgresql://shop:pw@db.example/shop")
    data = load_settings().masked()
    assert data["discord"]["token"] == MASK
    assert data["payments"]["fake"]["webhook_secret"] == MASK
    assert data["database"]["url"] == f"postgresql+asyncpg://shop:{MASK}@db.example/shop"


@pytest.mark.parametrize(
    ("given", "effective"),
    [
        ("sqlite:///shop.db", "sqlite+aiosqlite:///shop.db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_gets_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, effective: str
) -> None:
    """Provider-style URLs are accepted and run on the async driver."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", given)
    assert load_settings().database.url == effective


@pytest.mark.parametrize("url", ["sqlite://", "sqlite+aiosqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Orders must outlive the process: a database URL naming no file is refused."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", url)
    with pytest.raises(SettingsError, match=r"^database\.url: .*in-memory SQLite"):
        load_settings()


def test_production_refuses_the_fake_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake gateway takes no money, so production will not start with it."""
    monkeypatch.setenv("STOREFRONT_ENVIRONMENT", "production")
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok")
    with pytest.raises(SettingsError, match=r"^payments\.gateway: the fake gateway"):
        load_settings()


def test_production_needs_a_token(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Production without a Discord token is refused rather than run as a sandbox."""
    path = isolated / "shop.toml"
    path.write_text('environment = "production"\n[payments]\ngateway = "stripe"\n')
    with pytest.raises(SettingsError, match=r"^discord\.token: production needs a bot token"):
        load_settings(path)


def test_chosen_gateway_validates_its_table(isolated: Path) -> None:
    """The fake gateway's missing webhook secret is reported at load."""
    path = isolated / "shop.toml"
    path.write_text("[payments.fake]\n")
    with pytest.raises(SettingsError, match=r"^payments\.fake\.webhook_secret: required"):
        load_settings(path)


def test_unknown_gateway_is_reported(isolated: Path) -> None:
    """A gateway name with no installed plugin names the key and the installed ones."""
    path = isolated / "shop.toml"
    path.write_text('[payments]\ngateway = "paypal"\n')
    with pytest.raises(SettingsError, match=r"^payments\.gateway: .*'paypal' is not installed"):
        load_settings(path)


def test_settings_built_directly_validate_the_catalog() -> None:
    """Constructing Settings in code runs the same cross-section checks as loading."""
    settings = Settings(
        memberships={"paid": {}},
        store={
            "items": [
                {
                    "sku": "a",
                    "name": "A",
                    "price": 300,
                    "kind": "membership",
                    "tier": "paid",
                    "months": 1,
                }
            ]
        },
    )
    assert settings.catalog.require("a").spec["months"] == 1


def test_missing_file_named_by_the_variable_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A STOREFRONT_CONFIG pointing nowhere is reported with the variable's name."""
    monkeypatch.setenv("STOREFRONT_CONFIG", "gone.toml")
    with pytest.raises(SettingsError, match=r"^gone\.toml \(from STOREFRONT_CONFIG\): no such"):
        load_settings()


def test_malformed_json_in_the_environment_names_the_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A list variable that is not JSON is reported against its section."""
    monkeypatch.setenv("STOREFRONT_DISCORD__GUILD_IDS", "[1,")
    with pytest.raises(SettingsError, match=r"^discord: a STOREFRONT_DISCORD__\* variable"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://shop:pw@db/shop", f"postgresql+asyncpg://shop:{MASK}@db/shop"),
        (
            "postgresql+asyncpg://shop@db/shop?password=pw&ssl=require",
            f"postgresql+asyncpg://shop@db/shop?password={MASK}&ssl=require",
        ),
        (
            "postgresql+asyncpg://shop:pw@db/shop?password=pw",
            f"postgresql+asyncpg://shop:{MASK}@db/shop?password={MASK}",
        ),
        (
            "postgresql+asyncpg://shop@db/shop?ssl=require",
            "postgresql+asyncpg://shop@db/shop?ssl=require",
        ),
    ],
    ids=["userinfo", "query", "both", "none"],
)
def test_a_database_password_is_masked_wherever_it_is(url: str, shown: str) -> None:
    """The userinfo password and a ?password= in the query are both masked."""
    assert mask_url(url) == shown


def test_repr_of_the_settings_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """repr(settings) masks the token, gateway secrets and the database passwords."""
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", "tok-repr-1")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__FAKE__WEBHOOK_SECRET", "whs-repr-2")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__API_KEY", "sk-repr-3")
    monkeypatch.setenv(
        "STOREFRONT_DATABASE__URL", "postgresql://u:pw-repr-4@h/db?password=pw-repr-5"
    )
    settings = load_settings()
    shown = repr(settings) + str(settings) + repr(settings.payments.tables)
    for secret in ("tok-repr-1", "whs-repr-2", "sk-repr-3", "pw-repr-4", "pw-repr-5"):
        assert secret not in shown
    assert settings.payments.gateway_options()["webhook_secret"] == "whs-repr-2"


def test_instance_id_from_the_environment_reaches_the_payment_flow(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STOREFRONT_PAYMENTS__INSTANCE_ID names the deployment to the gateway, not the database."""
    from bot.runtime import build_storefront

    monkeypatch.setenv("STOREFRONT_PAYMENTS__INSTANCE_ID", "shop-restored-2")
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", f"sqlite:///{isolated / 'shop.db'}")
    front = build_storefront(load_settings())
    assert asyncio.run(front.flow.deployment.instance_id()) == "shop-restored-2"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "a/b", ""])
def test_an_instance_id_unfit_for_gateway_metadata_is_refused(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """An instance id goes into gateway metadata and logs: plain characters, at most 64."""
    monkeypatch.setenv("STOREFRONT_PAYMENTS__INSTANCE_ID", bad or '""')
    with pytest.raises(SettingsError, match=r"payments\.instance_id: 1 to 64"):
        load_settings()


def test_shards_are_unset_by_default() -> None:
    """No shard settings: one unsharded connection, as before sharding existed."""
    discord = load_settings().discord
    assert (discord.shard_count, discord.shard_ids, discord.sharded) == (None, None, False)


def test_shards_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", "4")
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_IDS", "[0, 1]")
    discord = load_settings().discord
    assert (discord.shard_count, discord.shards) == (4, [0, 1])


def test_a_shard_count_alone_runs_every_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", "3")
    assert load_settings().discord.shards == [0, 1, 2]


@pytest.mark.parametrize(
    ("count", "ids", "problem"),
    [
        (None, "[0]", "discord.shard_ids: needs discord.shard_count, the number of shards "),
        ("2", "[0, 2, 5]", "discord.shard_ids: 2, 5 outside 0..1 (discord.shard_count is 2)"),
        ("2", "[1, 1]", "discord.shard_ids: 1 listed twice"),
        ("2", "[]", "discord.shard_ids: name at least one shard, or leave it unset to run all"),
        ("0", None, "discord.shard_count: input should be greater than or equal to 1"),
    ],
)
def test_bad_shard_settings_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, problem: str
) -> None:
    if count is not None:
        monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_COUNT", count)
    if ids is not None:
        monkeypatch.setenv("STOREFRONT_DISCORD__SHARD_IDS", ids)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(problem)


def test_interactions_over_http_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "AB" * 32
    monkeypatch.setenv("STOREFRONT_DISCORD__INTERACTIONS", "http")
    monkeypatch.setenv("STOREFRONT_DISCORD__PUBLIC_KEY", key)
    discord = load_settings().discord
    assert (discord.interactions, discord.public_key) == ("http", key.lower())


@pytest.mark.parametrize(
    ("interactions", "key", "problem"),
    [
        ("http", None, "discord.public_key: interactions over HTTP are verified with the "),
        (
            "http",
            "abc",
            "discord.public_key: the application's public key is 64 hexadecimal characters",
        ),
        ("webhook", None, "discord.interactions: input should be 'gateway' or 'http'"),
    ],
)
def test_bad_interaction_settings_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, interactions: str, key: str | None, problem: str
) -> None:
    monkeypatch.setenv("STOREFRONT_DISCORD__INTERACTIONS", interactions)
    if key is not None:
        monkeypatch.setenv("STOREFRONT_DISCORD__PUBLIC_KEY", key)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(problem)


def test_a_grace_period_of_no_days_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grace is when a member whose renewal failed is told and can fix it."""
    monkeypatch.setenv("STOREFRONT_STORE__SUBSCRIPTION_GRACE_DAYS", "0")
    with pytest.raises(SettingsError, match=r"store\.subscription_grace_days"):
        load_settings()
