"""A member cancels their own pending order, once; a payment that comes late still wins."""

from __future__ import annotations

import pytest

from store.errors import InvalidInput, NotFound
from store.fulfilment import Outcome
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
    snapshot,
)
from tests.support import ALICE, BOB, GUILD, MOD

pytestmark = pytest.mark.asyncio


async def _pending_with_points(shop: Shop) -> int:
    """Alice's pending card order for paid-12m, 100 points of it reserved."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 100, "seed")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    order = await checkout_paid_by_card(shop, ALICE, points=100)
    assert order.points_applied == 100 and order.state is OrderState.PENDING
    return order.id


async def test_cancel_returns_the_lines_to_the_cart_and_releases_the_points(shop: Shop) -> None:
    """Cancelled: the cart holds the order's lines again and no point stays reserved."""
    order_id = await _pending_with_points(shop)
    order = await shop.orders.cancel(GUILD, ALICE, order_id)
    assert order.state is OrderState.CANCELLED
    cart = await shop.carts.view(GUILD, ALICE)
    assert [line.sku for line in cart.lines] == ["paid-12m"]
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (100, 0)
    await assert_balances_match_ledger(shop.ctx.db)


async def test_a_second_cancel_is_refused_and_changes_nothing(shop: Shop) -> None:
    """The second press says the order is already cancelled; the cart is not doubled."""
    order_id = await _pending_with_points(shop)
    await shop.orders.cancel(GUILD, ALICE, order_id)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match=f"Order #{order_id} is already cancelled"):
        await shop.orders.cancel(GUILD, ALICE, order_id)
    with pytest.raises(InvalidInput, match="already cancelled"):
        await shop.orders.cancellable(GUILD, ALICE, order_id)
    assert await snapshot(shop.ctx.db) == before


async def test_another_members_order_cannot_be_cancelled(shop: Shop) -> None:
    """Bob naming Alice's order finds no such order, and nothing changes."""
    order_id = await _pending_with_points(shop)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(NotFound):
        await shop.orders.cancellable(GUILD, BOB, order_id)
    with pytest.raises(NotFound):
        await shop.orders.cancel(GUILD, BOB, order_id)
    with pytest.raises(NotFound):
        await shop.orders.cancel(GUILD + 1, ALICE, order_id)
    assert await snapshot(shop.ctx.db) == before


async def test_a_paid_order_cannot_be_cancelled(shop: Shop) -> None:
    """Paid: the refusal says so, and the goods stay."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="already paid"):
        await shop.orders.cancel(GUILD, ALICE, order.id)
    assert await snapshot(shop.ctx.db) == before


@pytest.mark.parametrize(
    ("kind", "message"),
    [("checkout_expired", "has expired"), ("payment_failed", "payment failed")],
)
async def test_a_lapsed_order_cannot_be_cancelled(shop: Shop, kind: str, message: str) -> None:
    """Expired or failed already: the member is told so, and the cart is not doubled."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, kind, "evt_lapse"))
    with pytest.raises(InvalidInput, match=message):
        await shop.orders.cancel(GUILD, ALICE, order.id)
    assert len((await shop.carts.view(GUILD, ALICE)).lines) == 1


async def test_payment_after_cancel_wins_once_and_takes_the_lines_from_the_cart(
    shop: Shop,
) -> None:
    """Paid wins: fulfilled once, points spent once, the returned lines leave the cart."""
    order_id = await _pending_with_points(shop)
    await shop.carts.add(GUILD, ALICE, "points-100")  # added before the cancel: stays
    order = await shop.orders.cancel(GUILD, ALICE, order_id)
    assert len((await shop.carts.view(GUILD, ALICE)).lines) == 2
    paid = gateway_event(order, "payment_succeeded", "evt_late")
    assert (await shop.fulfilment.apply(paid)).outcome is Outcome.APPLIED
    again = gateway_event(order, "payment_succeeded", "evt_late_again")
    assert (await shop.fulfilment.apply(again)).outcome is Outcome.DUPLICATE
    assert (await shop.orders.get(GUILD, order_id)).state is OrderState.FULFILLED
    assert [line.sku for line in (await shop.carts.view(GUILD, ALICE)).lines] == ["points-100"]
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (0, 0)
    [membership] = account.memberships
    assert membership.tier == "paid"
    await assert_balances_match_ledger(shop.ctx.db)


async def test_an_expiry_after_cancel_changes_nothing(shop: Shop) -> None:
    """The gateway's own expiry notice for the killed link finds the order cancelled."""
    order_id = await _pending_with_points(shop)
    order = await shop.orders.cancel(GUILD, ALICE, order_id)
    before = await snapshot(shop.ctx.db)
    applied = await shop.fulfilment.apply(gateway_event(order, "checkout_expired", "evt_exp"))
    assert applied.outcome is Outcome.IGNORED
    after = await snapshot(shop.ctx.db)
    assert {k: v for k, v in after.items() if k != "payment_events"} == {
        k: v for k, v in before.items() if k != "payment_events"
    }
