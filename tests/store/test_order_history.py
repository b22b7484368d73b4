"""What a member looks back on: recent orders, one order's money, its receipt, gifts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.errors import InvalidInput
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio


async def test_recent_orders_are_listed_newest_first_with_their_pay_link(
    shop: Shop, clock: FakeClock
) -> None:
    """A pending order keeps its link while it works; a cancelled one has none to pay."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    first = await checkout_paid_by_card(shop, ALICE)
    await shop.orders.cancel(GUILD, ALICE, first.id)
    second = await checkout_paid_by_card(shop, ALICE)
    recent = await shop.history.recent(GUILD, ALICE)
    assert [(o.id, o.state) for o in recent] == [
        (second.id, OrderState.PENDING),
        (first.id, OrderState.CANCELLED),
    ]
    now = shop.ctx.now()
    assert recent[0].payable(now, {"fake"}) and not recent[1].payable(now, {"fake"})
    assert not recent[0].payable(now + timedelta(hours=2), {"fake"})
    assert not recent[0].payable(now, {"stripe"})  # its gateway no longer enabled
    assert await shop.history.recent(GUILD, BOB) == []


async def test_detail_says_what_was_paid_and_refunded(shop: Shop) -> None:
    """Paid is the captured amount; a partial refund shows beside it."""
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    order = await checkout_paid_by_card(shop, ALICE)
    before = await shop.history.detail(order)
    assert before.paid is None and before.refunded.amount == 0 and not before.has_receipt
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    await shop.fulfilment.apply(
        gateway_event(order, "refund_succeeded", "evt_refund", amount=500, subject_id="re_1")
    )
    detail = await shop.history.detail(await shop.orders.get(GUILD, order.id))
    assert detail.paid is not None and detail.paid.amount == 2500
    assert detail.refunded.amount == 500
    assert detail.order.state is OrderState.PARTIALLY_REFUNDED and detail.has_receipt


async def test_detail_shows_a_payment_in_another_currency_as_it_came(shop: Shop) -> None:
    """Held for the wrong currency: paid is the captured amount in the currency paid."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(
        gateway_event(order, "payment_succeeded", "evt_paid", amount=1200, currency="eur")
    )
    detail = await shop.history.detail(await shop.orders.get(GUILD, order.id))
    assert detail.order.state is OrderState.HELD and not detail.has_receipt
    assert detail.paid is not None
    assert (detail.paid.amount, detail.paid.currency) == (1200, "EUR")


async def test_receipt_again_lists_what_was_bought(shop: Shop) -> None:
    """The receipt of a paid order, with gifts marked as such and the amount paid."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB)
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    receipt = shop.history.receipt(await shop.orders.get(GUILD, order.id))
    assert receipt.order_id == order.id and receipt.member_id == ALICE
    assert receipt.lines == ["1 month of Paid", "100 points (gift)"]
    assert (receipt.paid, receipt.currency) == (1300, "USD")


async def test_an_unpaid_order_has_no_receipt(shop: Shop) -> None:
    """Pending: refused, saying why."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    with pytest.raises(InvalidInput, match="only a paid order has a receipt"):
        shop.history.receipt(order)


async def test_gifts_received_name_the_giver_unless_anonymous(shop: Shop) -> None:
    """Bob sees who gave the signed gift and no one for the anonymous one."""
    await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB)
    await shop.carts.add(GUILD, ALICE, "paid-1m", recipient_id=BOB, anonymous=True)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    assert await shop.history.gifts_received(GUILD, BOB) == []  # not paid yet
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    gifts = await shop.history.gifts_received(GUILD, BOB)
    assert sorted((g.name, g.giver_id) for g in gifts) == [
        ("100 points", ALICE),
        ("Paid, 1 month", None),
    ]
    assert all(g.gift_ref.startswith("G-") and not g.taken_back for g in gifts)
    assert await shop.history.gifts_received(GUILD, ALICE) == []  # her own line is no gift


async def test_a_gift_taken_back_says_so(shop: Shop) -> None:
    """Refunded: the gift is still listed, marked taken back."""
    await shop.grants.grant_points(GUILD, MOD, BOB, 1, "seed")
    await shop.carts.add(GUILD, ALICE, "paid-1m", recipient_id=BOB)
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    await shop.fulfilment.apply(
        gateway_event(order, "refund_succeeded", "evt_refund", subject_id="re_1")
    )
    [gift] = await shop.history.gifts_received(GUILD, BOB)
    assert gift.taken_back
