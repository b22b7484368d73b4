"""The shortest whole path: add, check out, pay, fulfilled."""

from __future__ import annotations

import pytest

from store.fulfilment import Outcome
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import ALICE, GUILD

pytestmark = pytest.mark.asyncio


async def test_paying_an_order_fulfils_it(shop: Shop) -> None:
    """A paid checkout grants the time and empties the cart."""
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    pending = await checkout_paid_by_card(shop, ALICE)
    assert pending.state is OrderState.PENDING
    assert pending.cash_due.amount == 600
    applied = await shop.fulfilment.apply(gateway_event(pending, "payment_succeeded", "evt_1"))
    assert applied.outcome is Outcome.APPLIED
    order = await shop.orders.get(GUILD, pending.id)
    assert order.state is OrderState.FULFILLED
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.memberships[0].tier == "paid"
    assert (await shop.carts.view(GUILD, ALICE)).is_empty
