"""The shortest whole path: add, check out, pay, fulfilled."""

from __future__ import annotations

import pytest

from store.fulfilment import Outcome, PaymentOutcome
from store.orders import OrderState
from store.shop import Shop
from tests.support import ALICE, GUILD

pytestmark = pytest.mark.asyncio


async def test_paying_an_order_fulfils_it(shop: Shop) -> None:
    """A paid checkout grants the time and empties the cart."""
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    result = await shop.orders.checkout(GUILD, ALICE)
    assert result.order.state is OrderState.PENDING
    assert result.order.cash_due.amount == 600
    applied = await shop.fulfilment.apply(
        PaymentOutcome("fake", "evt_1", "payment_succeeded", str(result.order.id), None, 600, "usd")
    )
    assert applied.outcome is Outcome.APPLIED
    order = await shop.orders.get(GUILD, result.order.id)
    assert order.state is OrderState.FULFILLED
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.memberships[0].tier == "paid"
    assert (await shop.carts.view(GUILD, ALICE)).is_empty
