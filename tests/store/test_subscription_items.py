"""Membership items sold as subscriptions: how they are configured, carted and paid for."""

from __future__ import annotations

from typing import Any

import pytest

from store.catalog import Catalog
from store.config import ItemConfig, StoreConfig
from store.db.engine import Database
from store.errors import ConfigError, InvalidInput
from store.kinds.registry import load_kinds
from store.shop import Shop
from tests.support import FakeClock, sample_store, sample_tiers

GUILD, ALICE, BOB = 1, 10, 20
MONTHLY = {"sku": "paid-monthly", "name": "Paid, monthly", "price": 300, "kind": "membership"}


def _with_subscriptions() -> StoreConfig:
    items = [
        *sample_store().items,
        ItemConfig(**MONTHLY, tier="paid", billing="subscription", interval="month"),
        ItemConfig(
            sku="paid-yearly",
            name="Paid, yearly",
            price=3000,
            kind="membership",
            tier="paid",
            billing="subscription",
            interval="year",
        ),
        ItemConfig(
            sku="premium-monthly",
            name="Premium, monthly",
            price=500,
            kind="membership",
            tier="premium",
            billing="subscription",
            interval="month",
        ),
    ]
    return sample_store(items=items)


@pytest.fixture
def shop(database: Database, clock: FakeClock) -> Shop:
    return Shop.build(database, _with_subscriptions(), sample_tiers(), clock=clock)


def _catalog(**options: Any) -> Catalog:
    config = StoreConfig.model_validate({"items": [{**MONTHLY, "tier": "paid", **options}]})
    tiers = sample_tiers()
    return Catalog.from_config(config, load_kinds(tiers))


def test_a_subscription_item_renews_every_its_interval_and_is_never_a_gift() -> None:
    catalog = _catalog(billing="subscription", interval="month")
    item = catalog.require("paid-monthly")
    assert catalog.renews_every(item) == "month"
    assert not item.giftable
    assert catalog.describe(item) == "Paid membership, renewing every month"


def test_one_off_items_do_not_renew() -> None:
    catalog = _catalog(months=1)
    assert catalog.renews_every(catalog.require("paid-monthly")) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"billing": "subscription"}, "interval must be 'month' or 'year'"),
        ({"billing": "subscription", "interval": "week"}, "interval must be 'month' or 'year'"),
        ({"billing": "subscription", "interval": "month", "months": 1}, "remove months"),
        ({"billing": "monthly", "months": 1}, "billing must be 'one_off' or 'subscription'"),
        ({"months": 1, "interval": "month"}, "interval is for billing = 'subscription' only"),
        (
            {"billing": "subscription", "interval": "month", "giftable": True},
            "a subscription can't be a gift",
        ),
    ],
)
def test_a_bad_subscription_item_is_refused_at_load(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _catalog(**options)


@pytest.mark.asyncio
async def test_a_subscription_cannot_be_gifted(shop: Shop) -> None:
    with pytest.raises(InvalidInput, match="can't be a gift"):
        await shop.carts.add(GUILD, ALICE, "paid-monthly", recipient_id=BOB)
    assert (await shop.carts.view(GUILD, ALICE)).item_count == 0


@pytest.mark.asyncio
async def test_a_cart_holds_one_subscription_per_tier(shop: Shop) -> None:
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(InvalidInput, match="bought once"):
        await shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(InvalidInput, match="already has a Paid subscription"):
        await shop.carts.add(GUILD, ALICE, "paid-yearly")
    cart = await shop.carts.view(GUILD, ALICE)
    assert [(line.sku, line.quantity) for line in cart.lines] == [("paid-monthly", 1)]


@pytest.mark.asyncio
async def test_one_off_time_may_join_a_subscription_in_the_cart(shop: Shop) -> None:
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    assert (await shop.carts.view(GUILD, ALICE)).item_count == 2


@pytest.mark.asyncio
async def test_a_subscription_cannot_be_paid_with_points(shop: Shop) -> None:
    await shop.grants.grant_points(GUILD, 1, ALICE, 10_000, "test")
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(InvalidInput, match="can't be paid with points"):
        await shop.orders.checkout(GUILD, ALICE, points=100)
    assert (await shop.carts.view(GUILD, ALICE)).item_count == 1
    assert (await shop.accounts.account(GUILD, ALICE)).points == 10_000


@pytest.mark.asyncio
async def test_a_subscription_checks_out_for_its_first_period_in_cash(shop: Shop) -> None:
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    order = (await shop.orders.checkout(GUILD, ALICE)).order
    assert (order.cash_due.amount, order.cash_due.currency) == (300, "USD")


@pytest.mark.asyncio
async def test_a_cart_holds_one_subscription_whatever_its_tier(shop: Shop) -> None:
    """One checkout starts one subscription at the gateway: a second waits its turn."""
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(InvalidInput, match="already has a Paid subscription; check it out"):
        await shop.carts.add(GUILD, ALICE, "premium-monthly")
    assert [line.sku for line in (await shop.carts.view(GUILD, ALICE)).lines] == ["paid-monthly"]
