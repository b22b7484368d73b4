"""The catalog, validated once at load and held in memory.

Items come from configuration; each item's kind checks its own options, so a bad
catalog stops start-up with a message naming the item and the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store.config import ItemConfig, StoreConfig
from store.errors import ConfigError, InvalidInput
from store.kinds.base import Interval, ItemKind
from store.money import Money


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    description: str
    image_url: str | None
    price: Money
    kind: str
    giftable: bool
    max_quantity: int
    spec: Mapping[str, Any]
    #: Units that may ever be sold in a shop; None: no limit (see store.stock).
    stock: int | None = None
    #: The sale window, aware UTC; None on a side: open on that side.
    available_from: datetime | None = None
    available_until: datetime | None = None
    #: Most units one member may buy in all (pending or paid orders); None: no limit.
    per_member_limit: int | None = None

    def window_problem(self, now: datetime) -> str | None:
        """Why the item can't be bought at `now`, or None inside its window (from
        inclusive, until exclusive)."""
        if self.available_from is not None and now < self.available_from:
            return f"{self.name} is not on sale yet."
        if self.available_until is not None and now >= self.available_until:
            return f"{self.name} is no longer on sale."
        return None

    @property
    def limited(self) -> bool:
        """Whether buying it needs the database asked about stock or past purchases."""
        return self.stock is not None or self.per_member_limit is not None


_NONE: frozenset[str] = frozenset()


class Catalog:
    """Items by SKU, in configuration order, with the kinds that give them meaning."""

    def __init__(self, items: list[CatalogItem], kinds: Mapping[str, ItemKind]) -> None:
        self._items = {item.sku: item for item in items}
        self.kinds = kinds
        #: Any item with a stock or per-member limit (else checkout asks nothing more).
        self.has_limits = any(item.limited for item in items)
        #: Any item with a stock (else /shop asks nothing about sold-out items).
        self.has_stock = any(item.stock is not None for item in items)
        #: Any item with a sale window (else /shop shows the whole catalog, cached).
        self.has_windows = any(
            item.available_from is not None or item.available_until is not None for item in items
        )
        #: Any item sold as a subscription (asked on every checkout, so counted once).
        self.sells_subscriptions = any(self.renews_every(item) is not None for item in items)

    @classmethod
    def from_config(cls, store: StoreConfig, kinds: Mapping[str, ItemKind]) -> Catalog:
        """The file's catalog, checked by `kinds` (loaded with the file's tiers)."""
        return cls.from_items(store.items, store.currency, kinds)

    @classmethod
    def from_items(
        cls, entries: Sequence[ItemConfig], currency: str, kinds: Mapping[str, ItemKind]
    ) -> Catalog:
        items = []
        for index, entry in enumerate(entries):
            where = f"store.items[{index}]"
            which = f"(item {entry.sku!r})"
            kind = kinds.get(entry.kind)
            if kind is None:
                known = ", ".join(sorted(kinds))
                raise ConfigError(
                    f"{where}.kind: unknown kind {entry.kind!r} (installed: {known}) {which}"
                )
            try:
                spec = kind.parse_options(entry.kind_options())
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc} {which}") from exc
            renews = kind.renews_every(spec) is not None
            if renews and entry.giftable and "giftable" in entry.model_fields_set:
                raise ConfigError(
                    f"{where}.giftable: a subscription can't be a gift (gifts are one-off "
                    f"time); leave giftable out {which}"
                )
            window = [
                _utc(getattr(entry, key), f"{where}.{key}", which)
                for key in ("available_from", "available_until")
            ]
            if window[0] is not None and window[1] is not None and window[0] >= window[1]:
                raise ConfigError(
                    f"{where}.available_until: must be later than available_from {which}"
                )
            items.append(
                CatalogItem(
                    sku=entry.sku,
                    name=entry.name,
                    description=entry.description,
                    image_url=entry.image_url,
                    price=Money(entry.price, currency),
                    kind=entry.kind,
                    giftable=entry.giftable and not renews,
                    max_quantity=entry.max_quantity,
                    spec=spec,
                    stock=entry.stock,
                    available_from=window[0],
                    available_until=window[1],
                    per_member_limit=entry.per_member_limit,
                )
            )
        return cls(items, kinds)

    def __iter__(self) -> Iterator[CatalogItem]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sku: str) -> CatalogItem | None:
        return self._items.get(sku)

    def require(self, sku: str) -> CatalogItem:
        item = self._items.get(sku)
        if item is None:
            raise InvalidInput(f"There is no item called {sku!r} in the shop.")
        return item

    def off_sale(self, now: datetime) -> frozenset[str]:
        """SKUs outside their sale window at `now` (the same empty set without windows)."""
        if not self.has_windows:
            return _NONE
        return frozenset(item.sku for item in self if item.window_problem(now) is not None)

    def kind_of(self, item: CatalogItem) -> ItemKind:
        return self.kinds[item.kind]

    def renews_every(self, item: CatalogItem) -> Interval | None:
        """The item's renewal interval when it is sold as a subscription."""
        return self.kind_of(item).renews_every(item.spec)

    def line_renews_every(self, kind: str, spec: Mapping[str, Any]) -> Interval | None:
        """The same for a line already ordered, read from the spec it was bought with
        (the item may have changed or gone since); a kind no longer installed renews
        nothing here."""
        found = self.kinds.get(kind)
        return found.renews_every(spec) if found is not None else None

    def describe(self, item: CatalogItem, quantity: int = 1) -> str:
        return self.kind_of(item).describe(item.spec, quantity)

    def by_kind(self) -> dict[str, list[CatalogItem]]:
        grouped: dict[str, list[CatalogItem]] = {}
        for item in self:
            grouped.setdefault(item.kind, []).append(item)
        return grouped


def _utc(value: datetime | None, key: str, which: str) -> datetime | None:
    """A sale window bound as aware UTC; a time without an offset is ambiguous."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(
            f"{key}: give the time with its offset, e.g. 2026-12-01T00:00:00Z for UTC {which}"
        )
    return value.astimezone(UTC)
