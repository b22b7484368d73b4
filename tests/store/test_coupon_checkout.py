"""Coupons wired through the shop: the cart applies one, checkout holds its use once,
and a lapse or a refund gives it back — on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from store.config import ItemConfig, StoreConfig
from store.coupons import Coupon, CouponSpec
from store.db.engine import Database, create_engine
from store.db.schema import carts
from store.errors import InvalidInput
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event, snapshot
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio


def coupon_store() -> StoreConfig:
    """The sample shop plus a monthly subscription."""
    monthly = ItemConfig(
        sku="paid-monthly",
        name="Paid, monthly",
        price=300,
        kind="membership",
        tier="paid",
        billing="subscription",
        interval="month",
    )
    return sample_store(items=[*sample_store().items, monthly])


@pytest.fixture
def shop(database: Database, clock: FakeClock) -> Shop:
    return Shop.build(database, coupon_store(), sample_tiers(), clock=clock)


async def make(shop: Shop, **fields: Any) -> Coupon:
    spec = CouponSpec.of({"code": "save20", "kind": "percent", "amount": 20, **fields})
    return await shop.coupons.create(GUILD, spec, by=MOD, currency="USD")


async def uses(shop: Shop, code: str = "SAVE20") -> int:
    found = await shop.coupons.find(GUILD, code)
    assert found is not None
    return found.uses


async def test_applying_a_coupon_shows_its_discount_in_the_summary(shop: Shop) -> None:
    """20% off two 3.00 items: subtotal 6.00, discount 1.20, total 4.80."""
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    summary = await shop.carts.apply_coupon(GUILD, ALICE, " save20 ")
    assert (summary.subtotal.amount, summary.discount.amount, summary.total.amount) == (
        600,
        120,
        480,
    )
    assert summary.coupon is not None and summary.coupon.code == "SAVE20"
    assert summary.coupon.text.startswith("20% off")
    assert (await shop.carts.view(GUILD, ALICE)).total.amount == 480


async def test_an_unknown_or_unusable_code_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    await make(shop, min_order=1000)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="no coupon NOPE1"):
        await shop.carts.apply_coupon(GUILD, ALICE, "nope1")
    with pytest.raises(InvalidInput, match=r"needs an order of at least \$10.00"):
        await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    assert await snapshot(shop.ctx.db) == before


async def test_removing_the_coupon_restores_the_full_total(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    summary = await shop.carts.remove_coupon(GUILD, ALICE)
    assert (summary.coupon, summary.total.amount) == (None, 300)
    with pytest.raises(InvalidInput, match="no coupon to remove"):
        await shop.carts.remove_coupon(GUILD, ALICE)


async def test_a_retired_coupon_shows_no_discount_and_says_why(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    await shop.coupons.retire(GUILD, "SAVE20", by=MOD)
    summary = await shop.carts.view(GUILD, ALICE)
    assert summary.discount.amount == 0 and summary.total.amount == 300
    assert summary.coupon is not None
    assert summary.coupon.problem == "The code SAVE20 is no longer valid."


async def test_a_cart_change_recomputes_the_discount(shop: Shop) -> None:
    """A coupon for one item only: removing that line leaves nothing to discount."""
    await make(shop, skus=["paid-12m"])
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    added = await shop.carts.add(GUILD, ALICE, "paid-12m")
    summary = await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    assert summary.discount.amount == 500
    line = next(line for line in added.lines if line.sku == "paid-12m")
    summary = await shop.carts.remove(GUILD, ALICE, line.id)
    assert summary.discount.amount == 0
    assert summary.coupon is not None and "applies only to Paid, 12 months" in (
        summary.coupon.problem or ""
    )


async def test_checkout_stores_the_discount_and_holds_one_use(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    assert order.discount is not None and order.discount.amount == 120
    assert (order.coupon_code, order.subtotal.amount, order.cash_due.amount) == (
        "SAVE20",
        600,
        480,
    )
    assert await uses(shop) == 1
    again = await shop.orders.checkout(GUILD, ALICE)
    assert (again.created, again.order.id) == (False, order.id)
    assert await uses(shop) == 1
    assert (await shop.carts.view(GUILD, ALICE)).coupon is None


async def test_checkout_refuses_a_coupon_retired_since_and_changes_nothing(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    await shop.coupons.retire(GUILD, "SAVE20", by=MOD)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match=r"SAVE20 is no longer valid.*Nothing was charged"):
        await shop.orders.checkout(GUILD, ALICE)
    assert await snapshot(shop.ctx.db) == before


@pytest_asyncio.fixture
async def other_process(
    database_url: str, database: Database, clock: FakeClock
) -> AsyncIterator[Shop]:
    db = Database(create_engine(database_url))
    yield Shop.build(db, coupon_store(), sample_tiers(), clock=clock)
    await db.dispose()


async def test_ten_concurrent_checkouts_of_a_three_use_coupon_use_it_exactly_three_times(
    shop: Shop, other_process: Shop
) -> None:
    """Ten members with the code applied check out at once on two processes."""
    await make(shop, max_uses=3)
    members = [ALICE + 100 + i for i in range(10)]
    for member in members:
        await shop.carts.add(GUILD, member, "paid-1m")
        await shop.carts.apply_coupon(GUILD, member, "SAVE20")
    results = await asyncio.gather(
        *(
            (shop if i % 2 else other_process).orders.checkout(GUILD, member)
            for i, member in enumerate(members)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 3
    assert all(r.order.coupon_code == "SAVE20" for r in made)
    assert all(isinstance(r, InvalidInput) and "used up" in r.message for r in refused)
    assert await uses(shop) == 3
    buyers = {r.order.buyer_id for r in made}
    for member in set(members) - buyers:
        cart = await shop.carts.view(GUILD, member)
        assert (len(cart.lines), cart.coupon is not None) == (1, True)


async def test_a_lapsed_order_gives_its_use_back_and_the_code_returns_to_the_cart(
    shop: Shop,
) -> None:
    await make(shop, max_uses=1)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.orders.lapse(order.id, OrderState.EXPIRED)
    assert await uses(shop) == 0
    summary = await shop.carts.view(GUILD, ALICE)
    assert summary.coupon is not None and summary.discount.amount == 60


async def test_a_second_lapse_event_changes_nothing(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "checkout_expired", "evt_x1"))
    await shop.fulfilment.apply(gateway_event(order, "payment_failed", "evt_x2"))
    assert await uses(shop) == 0


async def test_a_lapsed_order_paid_after_all_takes_its_use_again(shop: Shop) -> None:
    """Even past max_uses: the member paid the discounted price."""
    await make(shop, max_uses=1)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.orders.lapse(order.id, OrderState.EXPIRED)
    await shop.carts.remove_coupon(GUILD, ALICE)
    await shop.carts.add(GUILD, BOB, "paid-1m")
    await shop.carts.apply_coupon(GUILD, BOB, "SAVE20")
    await checkout_paid_by_card(shop, BOB)
    assert await uses(shop) == 1
    applied = await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_p1"))
    assert applied.outcome == "applied"
    assert await uses(shop) == 2
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_p2"))
    assert await uses(shop) == 2


async def test_a_full_refund_gives_the_use_back_and_a_partial_one_keeps_it(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_r0"))
    partial = gateway_event(order, "refund_succeeded", "evt_r1", amount=100, subject_id="re_1")
    await shop.fulfilment.apply(partial)
    assert await uses(shop) == 1
    rest = gateway_event(order, "refund_succeeded", "evt_r2", amount=380, subject_id="re_2")
    await shop.fulfilment.apply(rest)
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED
    assert await uses(shop) == 0
    await shop.fulfilment.apply(rest)
    assert await uses(shop) == 0


async def test_points_apply_to_what_is_left_after_the_coupon(shop: Shop) -> None:
    """25.00 less 20% is 20.00; 100 points of 0.10 pay 10.00 of it, 10.00 is left."""
    await make(shop)
    await shop.grants.grant_points(GUILD, MOD, ALICE, 100, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = (await shop.orders.checkout(GUILD, ALICE, points=100)).order
    assert order.discount is not None
    assert (order.subtotal.amount, order.discount.amount) == (2500, 500)
    assert (order.points_value.amount, order.cash_due.amount) == (1000, 1000)


async def test_a_subscription_line_is_never_discounted(shop: Shop) -> None:
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(InvalidInput, match="Subscriptions are never discounted"):
        await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    summary = await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    assert summary.discount.amount == 500
    order = (await shop.orders.checkout(GUILD, ALICE)).order
    assert order.discount is not None
    assert (order.subtotal.amount, order.discount.amount, order.cash_due.amount) == (
        2800,
        500,
        2300,
    )


async def test_a_cart_without_a_coupon_stores_no_code(shop: Shop) -> None:
    await shop.carts.add(GUILD, ALICE, "paid-1m")

    async def code(conn: Any) -> Any:
        return (await conn.execute(select(carts.c.coupon_code))).scalar_one()

    assert await shop.ctx.db.read(code) is None
    assert (await shop.carts.view(GUILD, ALICE)).discount.amount == 0


async def test_an_expired_coupon_is_refused_at_checkout(shop: Shop, clock: FakeClock) -> None:
    await make(shop, expires_at=clock.now + timedelta(hours=1))
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    clock.now += timedelta(hours=2)
    with pytest.raises(InvalidInput, match="SAVE20 expired"):
        await shop.orders.checkout(GUILD, ALICE)


async def test_a_held_order_refunded_gives_its_use_back(shop: Shop) -> None:
    """Paid the wrong amount (held), then its money returned: the use comes back."""
    await make(shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.apply_coupon(GUILD, ALICE, "SAVE20")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_h1", amount=100))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.HELD
    back = gateway_event(order, "refund_succeeded", "evt_h2", amount=100, subject_id="re_h")
    await shop.fulfilment.apply(back)
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED
    assert await uses(shop) == 0
