"""The catalog is validated at load, and kinds are plugins."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from store.accounts import AccountBook
from store.catalog import Catalog
from store.config import ItemConfig, StoreConfig
from store.effects import Effect
from store.errors import ConfigError
from store.kinds.base import ItemKind, PaidLine
from store.kinds.registry import installed_kinds, load_kinds
from tests.support import sample_store, sample_tiers


def _catalog(*items: dict[str, Any]) -> Catalog:
    config = StoreConfig.model_validate({"items": list(items)})
    tiers = sample_tiers()
    return Catalog.from_config(config, load_kinds(tiers))


def test_builtin_kinds_are_registered_as_entry_points() -> None:
    """membership and points are found the same way a plugin would be."""
    assert {"membership", "points"} <= set(installed_kinds())


def test_sample_catalog_loads_with_descriptions() -> None:
    """Each item describes what it gives."""
    tiers = sample_tiers()
    catalog = Catalog.from_config(sample_store(), load_kinds(tiers))
    assert catalog.describe(catalog.require("paid-1m"), 3) == "3 months of Paid"
    assert catalog.describe(catalog.require("points-100"), 2) == "200 points"
    assert catalog.describe(catalog.require("paid-forever")) == "Permanent Paid membership"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"tier": "gold", "months": 1}, "tier 'gold' is not a configured"),
        ({"tier": "paid"}, "set months or days"),
        ({"tier": "paid", "permanent": True, "months": 1}, "takes no months"),
        ({"tier": "paid", "months": -1}, "months must be"),
        ({"tier": "paid", "months": 1, "colour": "red"}, "unknown option"),
    ],
)
def test_bad_membership_items_name_the_item(item: dict[str, Any], message: str) -> None:
    """A bad item stops loading with a message naming it."""
    with pytest.raises(ConfigError, match=message) as info:
        _catalog({"sku": "x", "name": "X", "price": 100, "kind": "membership", **item})
    assert str(info.value).startswith("store.items[0]: ")
    assert str(info.value).endswith("(item 'x')")


def test_unknown_kind_lists_installed_ones() -> None:
    """A kind nobody installed is named, with the ones that are."""
    with pytest.raises(ConfigError, match=r"unknown kind 'rename'.*membership, points"):
        _catalog({"sku": "x", "name": "X", "price": 100, "kind": "rename"})


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"sku": "a", "name": "A", "price": 0, "kind": "points", "points": 1}], "positive"),
        ([{"sku": "a", "name": "A", "price": -5, "kind": "points", "points": 1}], "positive"),
        (
            [
                {"sku": "a", "name": "A", "price": 1, "kind": "points", "points": 1},
                {"sku": "a", "name": "B", "price": 1, "kind": "points", "points": 1},
            ],
            "duplicate item sku 'a'",
        ),
        ([{"sku": "Bad Sku", "name": "A", "price": 1, "kind": "points"}], "sku"),
    ],
)
def test_store_config_refuses_bad_items(items: list[dict[str, Any]], message: str) -> None:
    """Prices are positive and SKUs unique and simple."""
    with pytest.raises(ValidationError, match=message):
        StoreConfig.model_validate({"items": items})


class RenameToken(ItemKind):
    """A plugin kind, as an operator would write one."""

    name = "rename"

    def parse_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"tokens": int(options.get("tokens", 1))}

    def describe(self, spec: Mapping[str, Any], quantity: int) -> str:
        return f"{spec['tokens'] * quantity} rename token(s)"

    async def apply(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        return []

    async def claw_back(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        return []


def test_a_plugin_kind_joins_the_catalog_without_core_changes() -> None:
    """An extra kind is loaded beside the built-ins and validates its own options."""
    tiers = sample_tiers()
    kinds = load_kinds(tiers, {**installed_kinds(), "rename": RenameToken})
    config = StoreConfig(
        items=[ItemConfig(sku="rename", name="Rename", price=100, kind="rename", tokens=2)]
    )
    catalog = Catalog.from_config(config, kinds)
    assert catalog.describe(catalog.require("rename"), 2) == "4 rename token(s)"


_BADGE = {"sku": "badge", "name": "Badge", "price": 500, "kind": "points", "points": 1}


def test_a_sale_window_without_an_offset_names_the_item_and_key() -> None:
    """A time without its offset could be any zone's: refused rather than guessed."""
    with pytest.raises(ConfigError, match=r"items\[0\]\.available_from.*offset.*'badge'"):
        _catalog({**_BADGE, "available_from": datetime(2026, 2, 1)})


def test_a_sale_window_that_closes_before_it_opens_names_the_item_and_key() -> None:
    with pytest.raises(ConfigError, match=r"items\[0\]\.available_until.*later.*'badge'"):
        _catalog(
            {
                **_BADGE,
                "available_from": datetime(2026, 2, 8, tzinfo=UTC),
                "available_until": datetime(2026, 2, 1, tzinfo=UTC),
            }
        )


def test_a_sale_window_in_another_zone_is_held_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    item = _catalog({**_BADGE, "available_from": datetime(2026, 2, 1, 1, tzinfo=paris)}).require(
        "badge"
    )
    assert item.available_from == datetime(2026, 2, 1, tzinfo=UTC)
    assert item.available_from.tzinfo is UTC


def test_a_negative_stock_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="stock"):
        _catalog({**_BADGE, "stock": -1})
