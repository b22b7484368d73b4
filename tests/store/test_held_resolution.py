"""Held orders: who may accept one as paid, and which orders a refund can resolve."""

from __future__ import annotations

import pytest

from store.errors import InvalidInput
from store.grants import SelfGrant
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event, snapshot
from tests.support import ALICE, GUILD, MOD

pytestmark = pytest.mark.asyncio
S = OrderState


async def _held(shop: Shop, buyer: int, **line: object) -> Order:
    """The buyer checks out; the gateway reports one cent, so the order is held."""
    await shop.carts.add(GUILD, buyer, "paid-1m", **line)  # type: ignore[arg-type]
    order = await checkout_paid_by_card(shop, buyer)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "pay", amount=1))
    assert (await shop.orders.get(GUILD, order.id)).state is S.HELD
    return order


async def test_a_moderator_cannot_accept_their_own_held_order(shop: Shop) -> None:
    """The buyer is the moderator: refused, saying why, and nothing changes."""
    order = await _held(shop, MOD)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(SelfGrant, match=r"is yours .*ask another moderator"):
        await shop.fulfilment.resolve_paid(GUILD, order.id, MOD)
    assert await snapshot(shop.ctx.db) == before


async def test_a_moderator_cannot_accept_a_held_order_that_gives_them_something(
    shop: Shop,
) -> None:
    """Alice's order gives the moderator a month: the moderator may not accept it."""
    order = await _held(shop, ALICE, recipient_id=MOD)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(SelfGrant, match="receive part of it"):
        await shop.fulfilment.resolve_paid(GUILD, order.id, MOD)
    assert await snapshot(shop.ctx.db) == before


async def test_a_shop_allowing_self_grants_lets_a_moderator_accept_their_own(shop: Shop) -> None:
    """With self-grants allowed, the moderator's own held order is fulfilled."""
    order = await _held(shop, MOD)
    resolved = await shop.fulfilment.resolve_paid(GUILD, order.id, MOD, allow_self=True)
    assert resolved.state is S.FULFILLED


async def test_another_moderator_accepts_it(shop: Shop) -> None:
    """The rule is about oneself: someone else's held order is accepted as before."""
    order = await _held(shop, ALICE)
    assert (await shop.fulfilment.resolve_paid(GUILD, order.id, MOD)).state is S.FULFILLED


async def test_resolving_by_refund_returns_a_held_order(shop: Shop) -> None:
    """A held order's payment may be returned to resolve it."""
    order = await _held(shop, ALICE)
    assert (await shop.orders.held_refundable(GUILD, order.id)).id == order.id


async def test_resolving_by_refund_refuses_an_order_that_is_not_held(shop: Shop) -> None:
    """A fulfilled order is not resolved: the store says so, and how to return its money."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "pay"))
    with pytest.raises(InvalidInput, match=r"is fulfilled, not held.*refund it instead"):
        await shop.orders.held_refundable(GUILD, order.id)


async def test_resolving_by_refund_refuses_an_unpaid_order(shop: Shop) -> None:
    """A pending order has nothing to resolve and no hint to refund it."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    with pytest.raises(InvalidInput, match=r"is pending, not held: nothing to resolve\.$"):
        await shop.orders.held_refundable(GUILD, order.id)


async def test_a_held_order_keeps_its_points_reserved_until_it_ends(shop: Shop) -> None:
    """Held orders do not lapse (their money arrived); charged back, their points come free."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 100, "seed")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    order = await checkout_paid_by_card(shop, ALICE, points=100)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "pay", amount=1))
    held = await shop.accounts.account(GUILD, ALICE)
    assert (held.points, held.points_reserved) == (100, 100)
    await shop.fulfilment.apply(gateway_event(order, "dispute_lost", "lost", subject_id="dp"))
    assert (await shop.orders.get(GUILD, order.id)).state is S.CHARGED_BACK
    ended = await shop.accounts.account(GUILD, ALICE)
    assert (ended.points, ended.points_reserved) == (100, 0)
