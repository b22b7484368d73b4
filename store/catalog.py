"""The catalog, validated once at load and held in memory.

Items come from configuration; each item's kind checks its own options, so a bad
catalog stops start-up with a message naming the item and the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from store.config import StoreConfig, TierConfig
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


class Catalog:
    """Items by SKU, in configuration order, with the kinds that give them meaning."""

    def __init__(self, items: list[CatalogItem], kinds: Mapping[str, ItemKind]) -> None:
        self._items = {item.sku: item for item in items}
        self.kinds = kinds

    @classmethod
    def from_config(
        cls,
        store: StoreConfig,
        tiers: Mapping[str, TierConfig],
        kinds: Mapping[str, ItemKind],
    ) -> Catalog:
        items = []
        for index, entry in enumerate(store.items):
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
            items.append(
                CatalogItem(
                    sku=entry.sku,
                    name=entry.name,
                    description=entry.description,
                    image_url=entry.image_url,
                    price=Money(entry.price, store.currency),
                    kind=entry.kind,
                    giftable=entry.giftable and not renews,
                    max_quantity=entry.max_quantity,
                    spec=spec,
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

    @property
    def sells_subscriptions(self) -> bool:
        return any(self.renews_every(item) is not None for item in self)

    def describe(self, item: CatalogItem, quantity: int = 1) -> str:
        return self.kind_of(item).describe(item.spec, quantity)

    def by_kind(self) -> dict[str, list[CatalogItem]]:
        grouped: dict[str, list[CatalogItem]] = {}
        for item in self:
            grouped.setdefault(item.kind, []).append(item)
        return grouped
