"""A shop per guild: its settings and catalog, kept in the database, held in memory.

Each guild the bot serves has its own shop. The configuration file is the template:
the first time a guild is served, its shop is created from the file, and it follows
the file (edit, restart, as always) until a moderator first changes it from Discord
(`ShopDirectory.change`); from then on the shop's row is the truth. So a file-only
deployment runs as it always has, and a shop run from Discord never loses a change
to a later edit of the file.

Every interaction reads its shop, so shops are held in memory per process and never
read on the hot path. A change bumps the row's version; every process polls the
versions of the shops it holds (`refresh`, twice a second by default), so a change
made by one process is served by every other within a second, on SQLite or
PostgreSQL, without LISTEN/NOTIFY's dedicated connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, update

from store.catalog import Catalog
from store.clock import Clock, utcnow
from store.config import ItemConfig, StoreConfig, TierConfig
from store.db.engine import Conn, Database, StoreUnavailable
from store.db.schema import shops
from store.db.sql import insert_ignore
from store.errors import ConfigError, InvalidInput, validation_parts
from store.kinds.base import ItemKind
from store.kinds.registry import installed_kinds, load_kinds
from store.money import Money, normalize_currency, normalize_locale
from store.text import storable

log = logging.getLogger("store.shops")

#: A change that keeps losing the race to another process's change gives up.
_CHANGE_ATTEMPTS = 5
#: Work that lands with a shop change, in its unit of work: (conn, before, after).
AlongWith = Callable[[Conn, "ShopDefinition", "ShopDefinition"], Coroutine[Any, Any, None]]


class ShopProfile(BaseModel):
    """What one shop keeps in the database: everything that may differ by guild."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    currency: str
    locale: str
    point_value: int = Field(ge=1, description="minor units one point is worth")
    minimum_cash: int = Field(ge=0, description="minor units a card payment keeps")
    items: list[ItemConfig] = Field(default_factory=list)
    #: Items taken off sale, kept so their SKUs are never reused for something else.
    retired: list[ItemConfig] = Field(default_factory=list)
    tiers: dict[str, TierConfig] = Field(default_factory=dict)
    moderator_role_ids: list[int] = Field(default_factory=list)
    audit_channel_id: int | None = None
    #: The deployment's gateways this shop offers at checkout, by name; None offers
    #: every one. Gateways hold the operator's merchant accounts, so a shop picks
    #: among them but never adds one (the bot checks the names).
    gateways: list[str] | None = Field(default=None, min_length=1)

    @field_validator("name")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable(value)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalize_locale(value)

    @classmethod
    def from_config(
        cls,
        config: StoreConfig,
        tiers: Mapping[str, TierConfig],
        *,
        moderator_role_ids: Iterable[int] = (),
        audit_channel_id: int | None = None,
    ) -> ShopProfile:
        """The file's shop, which every new guild's shop starts as."""
        return cls(
            name=config.name,
            currency=config.currency,
            locale=config.locale,
            point_value=config.point_value,
            minimum_cash=config.minimum_cash,
            items=list(config.items),
            tiers=dict(tiers),
            moderator_role_ids=list(moderator_role_ids),
            audit_channel_id=audit_channel_id,
        )

    def stored(self) -> dict[str, Any]:
        """The row's JSON: only what was set, so an item read back validates as written
        (a subscription's `giftable` left out must stay left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def sku_taken(self, sku: str) -> bool:
        return any(item.sku == sku for item in (*self.items, *self.retired))


@dataclass(frozen=True)
class ShopDefinition:
    """One shop as every service reads it: the profile, validated, with its catalog."""

    shop_id: int
    version: int
    profile: ShopProfile
    catalog: Catalog

    @property
    def tiers(self) -> Mapping[str, TierConfig]:
        return self.profile.tiers

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def currency(self) -> str:
        return self.profile.currency

    @property
    def locale(self) -> str:
        return self.profile.locale

    def money(self, amount: int) -> Money:
        return Money(amount, self.profile.currency)

    def retired_name(self, sku: str) -> str:
        """What a member called an item no longer sold (its SKU if the shop forgot it)."""
        return next((item.name for item in self.profile.retired if item.sku == sku), sku)


def define(
    shop_id: int,
    version: int,
    profile: ShopProfile,
    available: Mapping[str, type[ItemKind]],
) -> ShopDefinition:
    """Check the catalog against the shop's own tiers and the installed kinds.

    Raises `ConfigError` naming the item and key, as a bad file does at start-up.
    """
    kinds = load_kinds(profile.tiers, available)
    catalog = Catalog.from_items(profile.items, profile.currency, kinds)
    return ShopDefinition(shop_id, version, profile, catalog)


class ShopDirectory:
    """Every shop this process serves, loaded on first use and kept current."""

    def __init__(
        self,
        db: Database,
        template: ShopProfile,
        *,
        kinds: Mapping[str, type[ItemKind]] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.kinds = installed_kinds() if kinds is None else dict(kinds)
        self.clock = clock
        #: The file's shop; validated here, so a bad file stops start-up.
        self.template = define(0, 0, template, self.kinds)
        self._shops: dict[int, ShopDefinition] = {}

    def held(self) -> list[int]:
        """The shops this process has loaded."""
        return list(self._shops)

    async def get(self, shop_id: int, conn: Conn | None = None) -> ShopDefinition:
        """The shop, from memory; on first use read, or created from the template.

        Inside a unit of work pass its connection: a nested unit would wait for the
        one holding the writer (SQLite) and never get it.
        """
        found = self._shops.get(shop_id)
        if found is not None:
            return found
        if conn is not None:
            return self._hold(await self._load(conn, shop_id))
        loaded = await self.db.read(lambda c: self._read(c, shop_id))
        if loaded is None:
            loaded = await self.db.write(lambda c: self._load(c, shop_id))
        return self._hold(loaded)

    async def change(
        self,
        shop_id: int,
        edit: Callable[[ShopProfile], ShopProfile],
        *,
        then: AlongWith | None = None,
    ) -> tuple[ShopDefinition, ShopDefinition]:
        """Apply `edit` to the stored profile; returns the shop before and after.

        `edit` raises `InvalidInput` to refuse. The new profile is checked like a
        file's; a profile that would not load, or one the edit left as it was, is
        refused and nothing is stored. `then(conn, before, after)` runs in the unit of
        work that stores the change (rows that must move with it, such as stock), so
        both land or neither does. Two changes at once both land, one after the other
        (compare-and-set on the version).
        """
        for _ in range(_CHANGE_ATTEMPTS):
            before = await self.db.write(lambda c: self._load(c, shop_id))
            profile = edit(before.profile.model_copy(deep=True))
            try:
                profile = ShopProfile.model_validate(profile.stored())
                after = define(shop_id, before.version + 1, profile, self.kinds)
            except (ConfigError, ValidationError) as exc:
                raise InvalidInput(_plain(exc)) from exc
            if profile.stored() == before.profile.stored():
                raise InvalidInput("The shop is already like that: nothing changed.")
            if await self.db.write(self._storing(before, after, then)):
                self._shops[shop_id] = after
                return before, after
        raise StoreUnavailable("The shop kept changing under this change; try again.")

    async def refresh(self) -> list[int]:
        """Reload the held shops another process changed; returns their ids."""
        held = self.held()
        if not held:
            return []

        async def versions(conn: Conn) -> dict[int, int]:
            rows = await conn.execute(
                select(shops.c.id, shops.c.version).where(shops.c.id.in_(held))
            )
            return {int(r.id): int(r.version) for r in rows}

        current = await self.db.read(versions)
        stale = [i for i in held if current.get(i, 0) != self._shops[i].version]
        for shop_id in stale:
            try:
                loaded = await self.db.read(lambda c, s=shop_id: self._read(c, s))  # type: ignore[misc]
            except ConfigError:
                # One shop this process can't load (a kind plugin missing here) must not
                # keep every other shop stale: it keeps serving the copy it has.
                log.exception("shop %s could not be reloaded; serving the copy held", shop_id)
                continue
            if loaded is not None:
                self._hold(loaded)  # a change this process just made may be newer
            else:
                self._shops.pop(shop_id, None)
        return stale

    async def current(self, shop_id: int, conn: Conn) -> ShopDefinition:
        """The shop as the database has it now, in the caller's unit of work: one
        version read, and a reload only when another process changed it since the last
        refresh. Checkout reads it so a price or stock changed a moment ago elsewhere
        is never sold at what this process still holds."""
        held = self._shops.get(shop_id)
        if held is not None:
            version = (
                await conn.execute(select(shops.c.version).where(shops.c.id == shop_id))
            ).scalar_one_or_none()
            if version == held.version:
                return held
        return self._hold(await self._load(conn, shop_id))

    def _hold(self, loaded: ShopDefinition) -> ShopDefinition:
        # Another coroutine may have loaded it meanwhile: keep the newer.
        held = self._shops.get(loaded.shop_id)
        if held is not None and held.version >= loaded.version:
            return held
        self._shops[loaded.shop_id] = loaded
        return loaded

    async def _read(self, conn: Conn, shop_id: int) -> ShopDefinition | None:
        row = (
            await conn.execute(
                select(shops.c.version, shops.c.managed, shops.c.profile).where(
                    shops.c.id == shop_id
                )
            )
        ).first()
        if row is None:
            return None
        if not row.managed:
            return ShopDefinition(
                shop_id, int(row.version), self.template.profile, self.template.catalog
            )
        try:
            profile = ShopProfile.model_validate(row.profile)
            return define(shop_id, int(row.version), profile, self.kinds)
        except (ConfigError, ValidationError) as exc:
            # Only an uninstalled kind plugin or a hand-edited row gets here.
            raise ConfigError(f"shop {shop_id} in the database: {_plain(exc)}") from exc

    async def _load(self, conn: Conn, shop_id: int) -> ShopDefinition:
        """Read the shop, creating it from the template first if it has no row."""
        found = await self._read(conn, shop_id)
        if found is not None:
            return found
        now = self.clock()
        await insert_ignore(
            conn,
            shops,
            {
                "id": shop_id,
                "version": 1,
                "managed": False,
                "profile": self.template.profile.stored(),
                "created_at": now,
                "updated_at": now,
            },
            conflict=["id"],
        )
        created = await self._read(conn, shop_id)
        assert created is not None
        return created

    def _storing(
        self, before: ShopDefinition, after: ShopDefinition, then: AlongWith | None
    ) -> Callable[[Conn], Coroutine[Any, Any, bool]]:
        """The unit of work storing `after` if the row is still at `before`'s version."""

        async def store(conn: Conn) -> bool:
            result = await conn.execute(
                update(shops)
                .where(shops.c.id == after.shop_id, shops.c.version == before.version)
                .values(
                    version=after.version,
                    managed=True,
                    profile=after.profile.stored(),
                    updated_at=self.clock(),
                )
            )
            if not result.rowcount:
                return False
            if then is not None:
                await then(conn, before, after)
            return True

        return store


def _plain(exc: Exception) -> str:
    """A validation failure as one line a moderator can act on."""
    if isinstance(exc, ValidationError):
        return "; ".join(validation_parts(exc))
    return str(exc)
