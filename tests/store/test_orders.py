"""Checkout freezes the cart into an order; points pay all or part of it."""

from __future__ import annotations

import pytest

from store.errors import EmptyCart, IllegalTransition, InvalidInput
from store.orders import LAPSED_STATES, OrderState, check_lapse, plan_points
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
    snapshot,
)
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock, sample_store, sample_tiers


@pytest.mark.parametrize(
    ("total", "available", "wanted", "applied"),
    [
        (1000, 500, 500, 100),  # covers it all: 100 points x 10 cents
        (1000, 50, 50, 50),  # partial: $5 in points, $5 by card
        (1000, 90, 90, 70),  # partial capped so $3 stays for the card
        (1000, 0, 0, 0),
        (200, 10, 10, 0),  # below the minimum cash and not covered: card only
        (1005, 1000, 1000, 101),  # covering needs the ceiling
        (1000, 500, 30, 30),  # never more than asked
    ],
)
def test_plan_points(total: int, available: int, wanted: int, applied: int) -> None:
    """Points cover everything or leave at least the minimum cash amount."""
    assert plan_points(total, available, wanted, point_value=10, minimum_cash=300) == applied


@pytest.mark.parametrize("current", list(OrderState))
def test_only_a_pending_order_lapses(current: OrderState) -> None:
    """Expired, cancelled or failed only from pending; money states are the facts' to decide."""
    for target in OrderState:
        if current is OrderState.PENDING and target in LAPSED_STATES:
            check_lapse(current, target)
        else:
            with pytest.raises(IllegalTransition):
                check_lapse(current, target)


@pytest.mark.asyncio
async def test_checkout_snapshots_prices_and_empties_the_cart(shop: Shop) -> None:
    """The order keeps the prices of checkout time, whatever the catalog does later."""
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    result = await shop.orders.checkout(GUILD, ALICE)
    assert (await shop.carts.view(GUILD, ALICE)).is_empty
    dearer = sample_store(
        items=[{**item.model_dump(), "price": item.price * 2} for item in sample_store().items]
    )
    repriced = Shop.build(shop.ctx.db, dearer, sample_tiers(), clock=shop.ctx.clock)
    order = await repriced.orders.get(GUILD, result.order.id)
    assert order.lines[0].unit_price.amount == 2500
    assert order.cash_due.amount == 2500


@pytest.mark.asyncio
async def test_checkout_of_an_empty_cart_is_refused(shop: Shop) -> None:
    """Nothing to buy, nothing created."""
    before = await snapshot(shop.ctx.db)
    with pytest.raises(EmptyCart):
        await shop.orders.checkout(GUILD, ALICE)
    after = await snapshot(shop.ctx.db)
    assert {k: v for k, v in after.items() if k != "carts"} == {
        k: v for k, v in before.items() if k != "carts"
    }


@pytest.mark.asyncio
async def test_points_covering_the_order_pay_it_without_a_gateway(shop: Shop) -> None:
    """Enough points: paid and fulfilled at once, points spent through the ledger."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 500, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    result = await shop.orders.checkout(GUILD, ALICE, points=500)
    assert result.order.state is OrderState.FULFILLED
    assert result.order.points_applied == 250 and result.order.cash_due.amount == 0
    assert {e.kind for e in result.effects} >= {"add_role", "receipt"}
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.points == 250 and account.points_reserved == 0
    await assert_balances_match_ledger(shop.ctx.db)


@pytest.mark.asyncio
async def test_partial_points_are_reserved_then_captured_on_payment(shop: Shop) -> None:
    """Points cover part; the card pays the rest, at least the minimum cash."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 240, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    order = await checkout_paid_by_card(shop, ALICE, points=240)
    assert (order.points_applied, order.cash_due.amount) == (220, 300)
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (240, 220)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "e1"))
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (20, 0)
    await assert_balances_match_ledger(shop.ctx.db)


@pytest.mark.asyncio
async def test_checkout_returns_the_emptied_cart_with_points_left_after_reserving(
    shop: Shop,
) -> None:
    """The reply after checkout shows the cart as the checkout left it, read in its
    own transaction: empty, with the points that were not reserved."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 240, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    result = await shop.orders.checkout(GUILD, ALICE, points=240)
    assert result.cart is not None and result.cart.is_empty
    assert result.cart.points_available == 240 - 220
    assert result.cart == await shop.carts.view(GUILD, ALICE)


@pytest.mark.asyncio
async def test_reserved_points_cannot_be_spent_twice(shop: Shop) -> None:
    """A second checkout sees only the points not already reserved."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 240, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    await shop.orders.checkout(GUILD, ALICE, points=240)
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    second = (await shop.orders.checkout(GUILD, ALICE, points=240)).order
    assert second.points_applied == 20


@pytest.mark.asyncio
async def test_expiry_returns_lines_and_releases_points(shop: Shop) -> None:
    """An order that lapses gives the member their cart and points back."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 20, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2, recipient_id=BOB, note="hi")
    order = (await shop.orders.checkout(GUILD, ALICE, points=20)).order
    assert order.points_applied == 20
    lapsed = await shop.orders.lapse(order.id, OrderState.EXPIRED)
    assert lapsed.state is OrderState.EXPIRED
    cart = await shop.carts.view(GUILD, ALICE)
    assert [(ln.sku, ln.quantity, ln.recipient_id, ln.note) for ln in cart.lines] == [
        ("paid-1m", 2, BOB, "hi")
    ]
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (20, 0)


@pytest.mark.asyncio
async def test_lapsing_a_fulfilled_order_is_refused(shop: Shop) -> None:
    """States only move forward."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 500, "prize")
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = (await shop.orders.checkout(GUILD, ALICE, points=500)).order
    before = await snapshot(shop.ctx.db)
    with pytest.raises(IllegalTransition):
        await shop.orders.lapse(order.id, OrderState.CANCELLED)
    assert await snapshot(shop.ctx.db) == before


@pytest.mark.asyncio
async def test_negative_points_are_refused(shop: Shop) -> None:
    """A member can't ask for minus points."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    with pytest.raises(InvalidInput):
        await shop.orders.checkout(GUILD, ALICE, points=-5)


@pytest.mark.asyncio
async def test_checkout_rechecks_permanent_memberships(shop: Shop, clock: FakeClock) -> None:
    """Time for someone who became permanent since adding is refused at checkout."""
    await shop.carts.add(GUILD, ALICE, "paid-1m", recipient_id=BOB)
    await shop.grants.grant_time(GUILD, MOD, BOB, "paid", "founder", permanent=True)
    with pytest.raises(InvalidInput, match="permanent"):
        await shop.orders.checkout(GUILD, ALICE)
    assert len((await shop.carts.view(GUILD, ALICE)).lines) == 1


@pytest.mark.asyncio
async def test_members_see_only_their_own_orders(shop: Shop) -> None:
    """Another member's order id reads as not found."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = (await shop.orders.checkout(GUILD, ALICE)).order
    from store.errors import NotFound

    with pytest.raises(NotFound):
        await shop.orders.get(GUILD, order.id, buyer_id=BOB)
    assert (await shop.orders.get(GUILD, order.id, buyer_id=ALICE)).id == order.id


@pytest.mark.asyncio
async def test_out_of_range_ids_read_as_not_found(shop: Shop) -> None:
    """Ids no database column can hold are simply not found."""
    from store.errors import NotFound

    with pytest.raises(NotFound):
        await shop.orders.get(GUILD, 2**63)
    with pytest.raises(NotFound):
        await shop.carts.remove(GUILD, ALICE, 2**64)


@pytest.mark.asyncio
async def test_asking_again_and_again_returns_the_same_pending_order(shop: Shop) -> None:
    """Checkout pressed three times: one order, found every time."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    first = await shop.orders.checkout(GUILD, ALICE)
    second = await shop.orders.checkout(GUILD, ALICE)
    third = await shop.orders.checkout(GUILD, ALICE)
    assert first.created and not second.created and not third.created
    assert first.order.id == second.order.id == third.order.id
