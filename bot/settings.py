"""The deployment's configuration: one TOML file, overridden by the environment.

Precedence, lowest first: model defaults, the file, ``STOREFRONT_<SECTION>__<KEY>``
variables. With no file at all the defaults are the shipped ``config.example.toml``
(packaged as ``bot/defaults.toml``), so a fresh clone runs. Everything is checked
here, catalog included, so a bad deployment stops before it touches the database or
Discord, with a message naming the key and never a pydantic dump or a secret.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic_settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from store.catalog import Catalog
from store.config import StoreConfig, TierConfig
from store.errors import ConfigError
from store.kinds.registry import load_kinds
from store.money import normalize_currency, normalize_locale

if typing.TYPE_CHECKING:
    from payments.gateway import Gateway

ENV_PREFIX = "STOREFRONT_"
CONFIG_ENV = "STOREFRONT_CONFIG"
DEFAULT_FILE = "config.toml"
DEFAULTS_RESOURCE = "defaults.toml"
MASK = "********"
#: A gateway option whose name contains one of these is a secret: masked, and
#: refused in a file. The fake gateway is exempt from the refusal (it guards nothing).
SECRET_WORDS = ("secret", "token", "password", "api_key", "private_key")
_NAME = r"^[a-z0-9][a-z0-9_-]*$"


class SettingsError(Exception):
    """Configuration that cannot run; each problem reads ``<key>: <what is wrong>``.

    Messages never include a configured value, so a secret in a wrong place cannot
    leak into a terminal or a CI log.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class _Section(BaseModel):
    # A typo in a key must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")


class DiscordSettings(_Section):
    token: SecretStr | None = None
    guild_ids: list[int] = Field(default_factory=list)
    moderator_role_ids: list[int] = Field(default_factory=list)
    audit_channel_id: int | None = None
    cooldown_seconds: float = Field(default=2.0, ge=0, le=3600)
    moderators_may_grant_self: bool = False
    #: Shards across every process (unset: one unsharded connection, as before sharding).
    shard_count: int | None = Field(default=None, ge=1, le=10_000)
    #: The shards this process runs; unset with a count, all of them.
    shard_ids: list[int] | None = None
    #: How Discord delivers interactions: over the gateway connection, or posted to
    #: ``{web.public_url}/interactions`` (processes behind a load balancer).
    interactions: Literal["gateway", "http"] = "gateway"
    #: The application's public key (hex, from the Developer Portal) that HTTP
    #: interactions are verified with; public, so not a secret.
    public_key: str | None = None

    @field_validator("public_key")
    @classmethod
    def _ed25519_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError(
                "the application's public key is 64 hexadecimal characters "
                "(Developer Portal, General Information, Public Key)"
            )
        return value

    @field_validator("guild_ids", "moderator_role_ids")
    @classmethod
    def _snowflakes(cls, value: list[int]) -> list[int]:
        if any(item <= 0 for item in value):
            raise ValueError("Discord ids are positive numbers")
        return value

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        """Ids without a count, out of range or twice would start a process Discord refuses
        (or two processes on one shard, each handling the same guilds)."""
        ids, count = self.shard_ids, self.shard_count
        if ids is None:
            return self
        if count is None:
            raise ConfigError(
                "discord.shard_ids: needs discord.shard_count, the number of shards "
                "across every process"
            )
        if not ids:
            raise ConfigError(
                "discord.shard_ids: name at least one shard, or leave it unset to run all"
            )
        outside = sorted({i for i in ids if not 0 <= i < count})
        if outside:
            raise ConfigError(
                f"discord.shard_ids: {', '.join(map(str, outside))} outside 0..{count - 1} "
                f"(discord.shard_count is {count})"
            )
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ConfigError(f"discord.shard_ids: {', '.join(map(str, twice))} listed twice")
        return self

    @model_validator(mode="after")
    def _http_needs_key(self) -> DiscordSettings:
        if self.interactions == "http" and self.public_key is None:
            raise ConfigError(
                "discord.public_key: interactions over HTTP are verified with the "
                "application's public key; set it (Developer Portal, General Information)"
            )
        return self

    @property
    def sharded(self) -> bool:
        """Whether the bot runs as discord.py's AutoShardedBot rather than one connection."""
        return self.shard_count is not None

    @property
    def shards(self) -> list[int]:
        """The shard ids this process runs (empty when unsharded)."""
        if self.shard_count is None:
            return []
        return list(self.shard_ids) if self.shard_ids is not None else list(range(self.shard_count))


class DatabaseSettings(_Section):
    # Left out of repr: the URL may hold a password; __repr_args__ shows it masked.
    url: str = Field(default="sqlite+aiosqlite:///storefront.db", repr=False)
    pool_size: int = Field(default=10, ge=1, le=100)
    lock_timeout_ms: int = Field(default=5000, ge=10, le=60_000)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the URLs hosting providers hand out, but always run the async driver."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL (e.g. sqlite+aiosqlite:///storefront.db)"
            ) from None
        backend = url.get_backend_name()
        drivers = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "postgres": "asyncpg"}
        if backend not in drivers:
            raise ValueError(f"unsupported database {backend!r}; use sqlite or postgresql")
        if url.drivername in (backend, f"{backend}+{drivers[backend]}"):
            name = "postgresql" if backend == "postgres" else backend
            url = url.set(drivername=f"{name}+{drivers[backend]}")
        else:
            raise ValueError(f"driver {url.drivername!r} is not async; use {drivers[backend]}")
        if backend == "sqlite" and (not url.database or url.database == ":memory:"):
            raise ValueError(
                "an in-memory SQLite database loses every order when the bot stops; "
                "name a file (e.g. sqlite:///storefront.db)"
            )
        return url.render_as_string(hide_password=False)

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.url).get_backend_name() == "sqlite"

    def masked_url(self) -> str:
        return mask_url(self.url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", self.masked_url()
        yield from super().__repr_args__()


class WebSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// address")
        return value.rstrip("/")


class PaymentsSettings(BaseModel):
    """``gateways`` (or the older single ``gateway``) name the enabled plugins; every
    other key is a gateway's own table.

    With several gateways the member picks one at checkout; the first is the default
    (what a caller gets without choosing), and after validation ``gateway`` is always
    that default. The tables stay free-form here because only the plugin knows its
    options; each enabled one validates its own (see ``load_settings``). Secret-named
    options are held as ``SecretStr`` so no dump, repr or log of the settings can show
    them; only ``gateway_options`` reveals them, for building the gateway.
    """

    model_config = ConfigDict(extra="allow")

    gateway: str = Field(default="fake", pattern=_NAME)
    gateways: list[str] | None = None
    #: Who this deployment is to the gateway; unset, the database's own generated id.
    instance_id: str | None = None

    @field_validator("instance_id")
    @classmethod
    def _instance_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
            raise ValueError("1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("gateways")
    @classmethod
    def _gateway_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ConfigError("payments.gateways: name at least one gateway")
        seen: set[str] = set()
        for name in value:
            if not re.match(_NAME, name):
                raise ConfigError(
                    f"payments.gateways: {name[:40]!r} is not a gateway name "
                    "(lower case letters, digits, '-' or '_')"
                )
            if name in seen:
                raise ConfigError(f"payments.gateways: {name!r} is listed twice")
            seen.add(name)
        return value

    @model_validator(mode="after")
    def _default_gateway(self) -> PaymentsSettings:
        """``gateways`` wins; a ``gateway`` given beside it must be one of them."""
        if self.gateways is None:
            return self
        if "gateway" in self.model_fields_set and self.gateway not in self.gateways:
            raise ConfigError(
                f"payments.gateway: {self.gateway!r} is not one of payments.gateways "
                f"({', '.join(self.gateways)}); remove payments.gateway (the first of "
                "payments.gateways is the default) or add it to the list"
            )
        self.gateway = self.gateways[0]
        return self

    @property
    def enabled(self) -> tuple[str, ...]:
        """Every gateway members may pay with, the default first."""
        return tuple(self.gateways) if self.gateways is not None else (self.gateway,)

    @property
    def key(self) -> str:
        """The setting that enabled the gateways, for messages to the operator."""
        return "payments.gateways" if self.gateways is not None else "payments.gateway"

    @model_validator(mode="after")
    def _tables(self) -> PaymentsSettings:
        extra = self.model_extra or {}
        for name, value in extra.items():
            if not isinstance(value, dict):
                raise ConfigError(
                    f"payments.{name}: unknown key "
                    f"(gateway options go in a [payments.{name}] table)"
                )
            extra[name] = _hide_secrets(value)
        return self

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        """Every gateway's table, secrets as ``SecretStr``."""
        return {name: dict(value) for name, value in (self.model_extra or {}).items()}

    def options(self, gateway: str | None = None) -> dict[str, Any]:
        """The ``[payments.<gateway>]`` table, empty when absent; the chosen one by default.

        Secrets stay ``SecretStr``: safe to print or log.
        """
        return self.tables.get(gateway or self.gateway, {})

    def gateway_options(self, gateway: str | None = None) -> dict[str, Any]:
        """The table with its secrets revealed: only for building the gateway itself."""
        revealed: dict[str, Any] = _reveal(self.options(gateway))
        return revealed

    def _replace(self, gateway: str, table: dict[str, Any]) -> None:
        (self.model_extra or {})[gateway] = _hide_secrets(table)


#: The sandbox's guilds as a member names them: `guild_id`'s and `second_guild_id`'s.
SandboxGuildKey = Literal["first", "second"]
#: Roles and channels take ids a little above their guild's (see `bot.sandbox.world`),
#: so the two guilds' ids must be at least this far apart.
SANDBOX_GUILD_ID_SPACING = 1000


def _both_guilds() -> list[SandboxGuildKey]:
    return ["first", "second"]


class SandboxMember(_Section):
    id: int = Field(gt=0)
    name: str = Field(min_length=1, max_length=32)
    roles: list[int] = Field(default_factory=list)
    moderator: bool = False
    #: Both by default, so a member list written before there were two guilds fills both.
    guilds: list[SandboxGuildKey] = Field(default_factory=_both_guilds, min_length=1)


def _default_members() -> list[SandboxMember]:
    return [
        SandboxMember(id=100_000_000_000_000_001, name="alice"),
        SandboxMember(id=100_000_000_000_000_002, name="bob", guilds=["first"]),
        SandboxMember(id=100_000_000_000_000_003, name="carla", guilds=["second"]),
        SandboxMember(id=100_000_000_000_000_009, name="mod", moderator=True),
    ]


class SandboxSettings(_Section):
    guild_id: int = Field(default=900_000_000_000_000_001, gt=0)
    guild_name: str = Field(default="Storefront Sandbox", min_length=1, max_length=100)
    #: A second guild, so a developer sees at once that each guild is its own shop: until
    #: a moderator changes its shop from Discord, the sandbox sets it up at start in this
    #: currency and locale with a smaller catalog (`bot.sandbox.second_shop`).
    second_guild_id: int = Field(default=900_000_000_000_001_001, gt=0)
    second_guild_name: str = Field(default="Sandbox Café", min_length=1, max_length=100)
    second_guild_currency: str = "EUR"
    second_guild_locale: str = "de_DE"
    members: list[SandboxMember] = Field(default_factory=_default_members)

    @field_validator("second_guild_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("second_guild_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalize_locale(value)

    @field_validator("members")
    @classmethod
    def _unique_ids(cls, members: list[SandboxMember]) -> list[SandboxMember]:
        seen: set[int] = set()
        for member in members:
            if member.id in seen:
                raise ValueError(f"member id {member.id} appears twice")
            seen.add(member.id)
        return members

    @model_validator(mode="after")
    def _guilds_apart(self) -> SandboxSettings:
        if abs(self.guild_id - self.second_guild_id) < SANDBOX_GUILD_ID_SPACING:
            raise ValueError(
                f"sandbox.guild_id and sandbox.second_guild_id must be at least "
                f"{SANDBOX_GUILD_ID_SPACING} apart (their roles and channels take the ids "
                "just above them)"
            )
        return self


class WorkerSettings(_Section):
    reconcile_seconds: int = Field(default=300, ge=10)
    pending_age_minutes: int = Field(default=15, ge=1)
    reminders_seconds: int = Field(default=3600, ge=10)
    expiry_seconds: int = Field(default=300, ge=10)
    outbox_seconds: float = Field(default=5.0, gt=0)
    abandoned_carts_seconds: int = Field(default=86_400, ge=60)
    #: How often a process looks for shops changed by another (from Discord).
    shops_seconds: float = Field(default=0.5, gt=0, le=60)


class Settings(BaseSettings):
    """Every section of the configuration, validated together.

    ``environment`` is a top-level key (``STOREFRONT_ENVIRONMENT``). Build one with
    ``load_settings``; constructing it directly skips the file and the gateway check.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
    )

    environment: Literal["development", "production"] = "development"
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)
    store: StoreConfig = Field(default_factory=StoreConfig)
    memberships: dict[str, TierConfig] = Field(default_factory=dict)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)

    _catalog: Catalog | None = PrivateAttr(default=None)
    _source: str = PrivateAttr(default="(no file)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init arguments; the environment must beat them.
        return (env_settings, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _unique_skus(cls, data: Any) -> Any:
        """Name both entries of a duplicate SKU; StoreConfig's own check cannot point at one."""
        items = data.get("store", {}).get("items") if isinstance(data, dict) else None
        if isinstance(items, list):
            first: dict[str, int] = {}
            for index, item in enumerate(items):
                sku = item.get("sku") if isinstance(item, dict) else None
                if isinstance(sku, str) and sku in first:
                    raise ConfigError(
                        f"store.items[{index}].sku: duplicate sku {sku!r} "
                        f"(already used by store.items[{first[sku]}])"
                    )
                if isinstance(sku, str):
                    first[sku] = index
        return data

    @field_validator("memberships")
    @classmethod
    def _tier_names(cls, tiers: dict[str, TierConfig]) -> dict[str, TierConfig]:
        for name in tiers:
            if not re.match(_NAME, name):
                raise ValueError(
                    f"tier name {name!r} must be lower case letters, digits, '-' or '_'"
                )
        return tiers

    @model_validator(mode="after")
    def _cross_section(self) -> Settings:
        if self.environment == "production":
            if "fake" in self.payments.enabled:
                raise ConfigError(
                    f"{self.payments.key}: the fake gateway takes no money; "
                    'environment = "production" needs a real gateway'
                )
            if self.discord.token is None:
                raise ConfigError(
                    "discord.token: production needs a bot token (set STOREFRONT_DISCORD__TOKEN)"
                )
            if not self.discord.guild_ids:
                raise ConfigError(
                    "discord.guild_ids: production needs at least one guild the shop serves "
                    "(an interaction from any other guild is refused)"
                )
        for index, item in enumerate(self.store.items):
            tier = item.kind_options().get("tier")
            if isinstance(tier, str) and tier not in self.memberships:
                known = ", ".join(sorted(self.memberships)) or "none"
                raise ConfigError(
                    f"store.items[{index}].tier: item {item.sku!r} names tier {tier!r}, which has "
                    f"no [memberships.{tier}] table (configured tiers: {known})"
                )
        self._catalog = Catalog.from_config(self.store, load_kinds(self.memberships))
        return self

    @property
    def catalog(self) -> Catalog:
        """The validated catalog, built once at load, for the shop to use as is."""
        if self._catalog is None:  # pragma: no cover - set by the validator above
            raise RuntimeError("settings were not validated")
        return self._catalog

    @property
    def source(self) -> str:
        """Where the file part came from, for the operator's report."""
        return self._source

    @property
    def sandbox_mode(self) -> bool:
        """No token means nothing can talk to Discord, so the simulated guild stands in."""
        return self.discord.token is None

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data with every secret replaced by MASK."""
        data = self.model_dump(mode="python")
        if self.discord.token is not None:
            data["discord"]["token"] = MASK
        data["database"]["url"] = self.database.masked_url()
        for name, table in self.payments.tables.items():
            data["payments"][name] = _mask_table(table)
        return data


def mask_url(url: str) -> str:
    """The URL without its password, whether in the userinfo or the query (``?password=``)."""
    parsed: URL = make_url(url)
    secret_query = [key for key in parsed.query if is_secret_key(key)]
    if parsed.password is None and not secret_query:
        return url
    # A placeholder without "*", which the query would percent-encode.
    placeholder = "STOREFRONTMASKED"
    if secret_query:
        parsed = parsed.update_query_dict({key: placeholder for key in secret_query}, append=False)
    # set(password=MASK) would percent-encode the stars; hide_password renders "***".
    rendered = parsed.render_as_string(hide_password=True).replace(":***@", f":{MASK}@", 1)
    return rendered.replace(placeholder, MASK)


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _hide_secrets(table: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap every secret-named value (or each item of a list of them) as SecretStr."""
    hidden: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            hidden[key] = _hide_secrets(value)
        elif not is_secret_key(key):
            hidden[key] = value
        elif isinstance(value, list | tuple):
            hidden[key] = [_secret(item) for item in value]
        else:
            hidden[key] = _secret(value)
    return hidden


def _secret(value: Any) -> Any:
    return SecretStr(value) if isinstance(value, str) else value


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(item) for item in value]
    return value


def _mask_table(table: Mapping[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            masked[key] = _mask_table(value)
        elif is_secret_key(key) or isinstance(value, SecretStr):
            masked[key] = [MASK for _ in value] if isinstance(value, list | tuple) else MASK
        else:
            masked[key] = value
    return masked


# -- loading --------------------------------------------------------------------------


def load_settings(path: str | Path | None = None) -> Settings:
    """Read, merge and check the configuration; raise SettingsError if it cannot run.

    With no ``path``: ``$STOREFRONT_CONFIG``, else ``./config.toml`` when present, else
    the shipped defaults.
    """
    source, data = _read_file(path)
    _refuse_file_secrets(source, data)
    _environment_names_gateways(data)
    try:
        settings = Settings(**data)
    except ValidationError as error:
        raise SettingsError(list(_describe(error))) from None
    except ConfigError as error:
        raise SettingsError(str(error)) from None
    except pydantic_settings.SettingsError as error:
        raise SettingsError(_env_parse_problem(error)) from None
    settings._source = source
    _check_gateway(settings)
    return settings


def _environment_names_gateways(data: dict[str, Any]) -> None:
    """The environment beats the file for which gateways run, in either form.

    ``STOREFRONT_PAYMENTS__GATEWAYS`` over a file's ``gateway = "fake"`` (the shipped
    defaults) means those gateways, not a conflict; likewise the single form over a
    file's list. Both from one source still follow the rule of ``PaymentsSettings``.
    """
    payments = data.get("payments")
    if not isinstance(payments, dict):
        return
    single = bool(os.environ.get(env_name("payments.gateway")))
    several = bool(os.environ.get(env_name("payments.gateways")))
    if several and not single:
        payments.pop("gateway", None)
    elif single and not several:
        payments.pop("gateways", None)


def defaults_text() -> str:
    """The shipped defaults, identical to the repository's config.example.toml."""
    # Beside this module rather than importlib.resources: editable installs can expose
    # `bot` as a namespace package, which resources.files() refuses.
    return Path(__file__).with_name(DEFAULTS_RESOURCE).read_text(encoding="utf-8")


def _read_file(path: str | Path | None) -> tuple[str, dict[str, Any]]:
    name = str(path)
    if path is None:
        from_env = os.environ.get(CONFIG_ENV)
        if from_env:
            path, name = from_env, f"{from_env} (from {CONFIG_ENV})"
        elif Path(DEFAULT_FILE).is_file():
            path = name = DEFAULT_FILE
        else:
            return "built-in defaults (config.example.toml)", _parse(
                "config.example.toml", defaults_text()
            )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{name}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SettingsError(f"{name}: cannot read the file ({reason})") from None
    return name, _parse(name, text)


def _parse(name: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11 only offers "reason (at line L, column C)" as text.
        match = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", str(error))
        if match is None:
            raise SettingsError(f"{name}: invalid TOML: {error}") from None
        reason, where = match.groups()
        raise SettingsError(
            f"{name}: invalid TOML at {where}: {reason[:1].lower()}{reason[1:]}"
        ) from None


def _refuse_file_secrets(source: str, data: Mapping[str, Any]) -> None:
    """Secrets in a file end up in backups and repositories; insist on the environment."""
    problems = []
    discord = data.get("discord")
    if isinstance(discord, Mapping) and "token" in discord:
        problems.append("discord.token")
    payments = data.get("payments")
    if isinstance(payments, Mapping):
        for gateway, table in payments.items():
            if gateway == "fake" or not isinstance(table, Mapping):
                continue
            problems.extend(f"payments.{gateway}.{key}" for key in table if is_secret_key(key))
    if problems:
        raise SettingsError(
            [
                f"{key}: secrets are read only from the environment; remove it from {source} "
                f"and set {env_name(key)}"
                for key in problems
            ]
        )


def _check_gateway(settings: Settings) -> None:
    """Let each enabled gateway validate its own table now rather than at the first sale."""
    for name in settings.payments.enabled:
        _check_one_gateway(settings, name)


def _check_one_gateway(settings: Settings, name: str) -> None:
    key = settings.payments.key
    gateway = _gateway_class(name, key)
    if settings.environment == "production" and not gateway.takes_real_money:
        raise SettingsError(
            f"{key}: the {name!r} gateway takes no money; "
            'environment = "production" needs a real gateway'
        )
    options_model = gateway.Options
    table = _decode_env_lists(settings.payments.options(name), options_model, name)
    settings.payments._replace(name, table)
    try:
        options_model.model_validate(_reveal(table))
    except ValidationError as error:
        raise SettingsError(list(_describe(error, ("payments", name)))) from None


def _gateway_class(name: str, key: str = "payments.gateway") -> type[Gateway]:
    from payments.errors import PaymentsError
    from payments.registry import gateway_class

    try:
        return gateway_class(name)
    except PaymentsError as error:
        raise SettingsError(f"{key}: {error}") from None
    except Exception as error:  # a broken plugin must not look like a crash in the shop
        raise SettingsError(
            f"{key}: the {name!r} gateway plugin failed to load "
            f"({error.__class__.__name__}: {error})"
        ) from None


_CONTAINERS = (list, tuple, set, frozenset, dict)


def _decode_env_lists(
    table: Mapping[str, Any], model: type[BaseModel], gateway: str
) -> dict[str, Any]:
    """Read JSON from the environment for gateway options that take lists or tables.

    pydantic-settings decodes JSON only for fields it knows, and a gateway's table is
    free-form to it, so ``STOREFRONT_PAYMENTS__STRIPE__PREVIOUS_WEBHOOK_SECRETS='["whsec_old"]'``
    arrives as one string. The gateway's Options say which keys take a list.
    """
    decoded = dict(table)
    for key, value in table.items():
        field = model.model_fields.get(key)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if field is None or not isinstance(raw, str) or not _takes_container(field.annotation):
            continue
        try:
            decoded[key] = json.loads(raw)
        except ValueError:
            raise SettingsError(
                f"payments.{gateway}.{key}: takes a list, which the environment gives as JSON "
                f"(e.g. {env_name(f'payments.{gateway}.{key}')}='[\"...\"]')"
            ) from None
    return decoded


def _takes_container(annotation: Any) -> bool:
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    return any(
        (typing.get_origin(option) or option) in _CONTAINERS
        for option in options
        if option is not type(None)
    )


def _is_union(annotation: Any) -> bool:
    import types

    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


# -- what may run with Discord ------------------------------------------------------


def gateway_takes_real_money(settings: Settings, name: str | None = None) -> bool:
    """Whether the gateway ``name`` (every enabled one by default) takes real money."""
    names = (name,) if name is not None else settings.payments.enabled
    key = settings.payments.key
    return all(_gateway_class(each, key).takes_real_money for each in names)


def opted_into_test_payments(settings: Settings, name: str | None = None) -> bool:
    """Whether the operator allowed a gateway that takes no money to serve real Discord."""
    gateway = _gateway_class(name or settings.payments.gateway, settings.payments.key)
    try:
        options = gateway.Options.model_validate(settings.payments.gateway_options(gateway.name))
    except ValidationError as error:
        raise SettingsError(list(_describe(error, ("payments", gateway.name)))) from None
    return bool(getattr(options, "allow_with_discord", False))


def check_discord_gateway(settings: Settings) -> str | None:
    """Refuse a gateway that takes no money with a real Discord token, unless opted in.

    Each enabled gateway is checked on its own: real members would otherwise get
    checkout links where anyone can "pay" for free. Returns the line to show the
    operator when an opt-in is in force, else None.
    """
    if settings.sandbox_mode:
        return None
    key = settings.payments.key
    notes = []
    for name in settings.payments.enabled:
        if gateway_takes_real_money(settings, name):
            continue
        if not opted_into_test_payments(settings, name):
            raise SettingsError(
                f"{key}: the {name!r} gateway takes no money and a Discord token is "
                f"set; choose a real gateway, or for a test server set "
                f"[payments.{name}] allow_with_discord = true"
            )
        notes.append(
            f"test payments: the {name!r} gateway takes no money and serves real Discord "
            f"members ([payments.{name}] allow_with_discord = true); every checkout "
            f"{'with it ' if len(settings.payments.enabled) > 1 else ''}says so"
        )
    return "; ".join(notes) or None


def env_name(key: str) -> str:
    """The variable that overrides a dotted key: ``web.port`` -> ``STOREFRONT_WEB__PORT``."""
    return ENV_PREFIX + "__".join(part.upper() for part in key.split("."))


def _key(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _describe(error: ValidationError, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Turn pydantic's report into ``key: problem`` lines without any input value."""
    for item in error.errors(include_url=False, include_input=False):
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):
            yield str(cause)
            continue
        key = _key((*prefix, *item["loc"])) or "(top level)"
        message = _MESSAGES.get(item["type"], item["msg"])
        for noise in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(noise)
        message = message[:1].lower() + message[1:]
        if "[" not in key and os.environ.get(env_name(key)):
            message += f" (from {env_name(key)})"
        yield f"{key}: {message}"


def _env_parse_problem(error: pydantic_settings.SettingsError) -> str:
    match = re.search(r'field "([^"]+)"', str(error))
    field = match.group(1) if match else "environment"
    return (
        f"{field}: a {ENV_PREFIX}{field.upper()}__* variable holds a value that is not valid "
        "JSON (lists and tables from the environment are written as JSON)"
    )
