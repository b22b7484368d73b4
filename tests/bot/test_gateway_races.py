"""One order, one way to pay: sessions opened at once, and gateways the operator disabled.

With Stripe (the loopback stub) and the fake gateway enabled, on both databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from bot.payflow import CheckoutOutcome, PaymentFlow, PaymentUnavailable
from store.db.engine import Database
from store.orders import Order, OrderState
from tests.bot.conftest import Shopfront
from tests.bot.two_gateways import two_gateway_front
from tests.payments.stripe_api_stub import StripeStub
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def both(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Shopfront, StripeStub]]:
    async with two_gateway_front(database_url, clock) as front_and_stub:
        yield front_and_stub


async def _order(front: Shopfront) -> Order:
    [order] = await front.bot.shop.orders.recent(front.guild_id, front.alice.id, limit=1)
    return order


async def _stripe_order(front: Shopfront) -> Order:
    await front.bot.shop.carts.add(front.guild_id, front.alice.id, "paid-1m")
    await front.bot.flow.checkout(front.guild_id, front.alice.id, gateway="stripe")
    return await _order(front)


def _fake_only(front: Shopfront) -> PaymentFlow:
    """The same shop after the operator disabled Stripe (`gateways = ["fake"]`)."""
    flow = front.bot.flow
    return PaymentFlow(flow.shop, [flow.gateways["fake"]], public_url=front.url)


async def test_two_gateways_pressed_at_once_leave_one_way_to_pay(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """Both presses show the one session the order kept; the other link is expired at
    its gateway, so no second payment can be taken for the order."""
    front, stub = both
    flow, alice = front.bot.flow, front.alice
    await front.bot.shop.carts.add(front.guild_id, alice.id, "paid-1m")
    outcomes = await asyncio.gather(
        flow.checkout(front.guild_id, alice.id, gateway="stripe"),
        flow.checkout(front.guild_id, alice.id, gateway="fake"),
    )
    order = await _order(front)
    assert all(isinstance(o, CheckoutOutcome) and o.session for o in outcomes)
    assert {o.session.session_id for o in outcomes if o.session} == {order.gateway_session_id}
    if order.gateway == "fake":
        [stripe_session] = stub.sessions.values()
        assert stripe_session["status"] == "expired"
    else:
        fake = flow.gateways["fake"]
        again = await flow.session_for(order, fake)  # the same request finds the same session
        assert (await fake.fetch_session(again.session_id)).status == "expired"


async def test_an_order_at_a_disabled_gateway_offers_no_pay_link(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """A payment there would never reach the shop (its webhook endpoint is gone)."""
    front, _ = both
    order = await _stripe_order(front)
    assert front.bot.flow.stored_link(order) is not None
    assert _fake_only(front).stored_link(order) is None


async def test_checkout_of_an_order_at_a_disabled_gateway_points_to_cancel(
    both: tuple[Shopfront, StripeStub],
) -> None:
    front, _ = both
    await _stripe_order(front)
    with pytest.raises(PaymentUnavailable, match="Cancel it in /account"):
        await _fake_only(front).checkout(front.guild_id, front.alice.id)


async def test_an_order_at_a_disabled_gateway_is_cancelled_without_asking_it(
    both: tuple[Shopfront, StripeStub],
) -> None:
    front, stub = both
    order = await _stripe_order(front)
    calls = len(stub.requests)
    cancelled = await _fake_only(front).cancel(front.guild_id, front.alice.id, order.id)
    assert cancelled.state is OrderState.CANCELLED
    assert len(stub.requests) == calls
    cart = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert [line.sku for line in cart.lines] == ["paid-1m"]


async def test_reconcile_lapses_an_order_at_a_disabled_gateway_once_its_link_expired(
    both: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """Before the link's expiry it waits; after, nothing can pay it: the cart comes back."""
    front, stub = both
    order = await _stripe_order(front)
    flow = _fake_only(front)
    await flow.reconcile(timedelta(0))
    assert (await _order(front)).state is OrderState.PENDING
    assert order.checkout_expires_at is not None
    clock.now = order.checkout_expires_at + timedelta(seconds=1)
    calls = len(stub.requests)
    await flow.reconcile(timedelta(0))
    assert (await _order(front)).state is OrderState.EXPIRED
    assert len(stub.requests) == calls
    cart = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert [line.sku for line in cart.lines] == ["paid-1m"]
