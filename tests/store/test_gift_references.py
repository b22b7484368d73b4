"""Gift recipients are shown their gift's own reference, never the buyer's order number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.effects import Effect, GiftNotice, GiftWithdrawn
from store.fulfilment import PaymentOutcome
from store.orders import Order
from store.shop import Shop
from tests.support import ALICE, BOB, CAROL, GUILD

pytestmark = pytest.mark.asyncio


async def _paid_gift_order(shop: Shop) -> tuple[Order, list[Effect]]:
    """Alice buys time for herself, points for Bob (signed), time for Carol (anonymous)."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB, note="hi")
    await shop.carts.add(GUILD, ALICE, "paid-1m", recipient_id=CAROL, anonymous=True)
    order = (await shop.orders.checkout(GUILD, ALICE)).order
    order = await shop.orders.attach_session(
        order.id,
        gateway="fake",
        session_id=f"cs_{order.id}",
        url="http://pay",
        expires_at=shop.ctx.now() + timedelta(hours=1),
    )
    applied = await shop.fulfilment.apply(_event(order, "payment_succeeded", "evt_paid"))
    return order, applied.effects


def _event(order: Order, kind: str, event_id: str) -> PaymentOutcome:
    return PaymentOutcome(
        gateway="fake",
        event_id=event_id,
        kind=kind,
        order_id=str(order.id),
        session_id=order.gateway_session_id,
        amount=order.cash_due.amount,
        currency="usd",
    )


async def test_each_gift_line_has_its_own_reference(shop: Shop) -> None:
    """The two gift notices of one order carry different, opaque references."""
    _, effects = await _paid_gift_order(shop)
    notices = {e.member_id: e for e in effects if isinstance(e, GiftNotice)}
    refs = {member: notice.gift_ref for member, notice in notices.items()}
    assert set(refs) == {BOB, CAROL}
    assert refs[BOB] != refs[CAROL]
    assert all(ref.startswith("G-") and len(ref) == 10 for ref in refs.values())


async def test_recipient_ledger_names_the_gift_not_the_order(shop: Shop) -> None:
    """A recipient's history says "gift G-…"; the order appears only in the moderator view."""
    order, effects = await _paid_gift_order(shop)
    ref = next(e.gift_ref for e in effects if isinstance(e, GiftNotice) and e.member_id == BOB)
    [entry] = await shop.accounts.ledger(GUILD, BOB)
    assert entry.explain() == f"+100 points — gift {ref}"
    assert entry.explain(show_order=True) == f"+100 points — gift {ref}, order #{order.id}"


async def test_buyer_ledger_still_names_the_order(shop: Shop) -> None:
    """The buyer's own lines are explained by their order number, as before."""
    order, _ = await _paid_gift_order(shop)
    [entry] = await shop.accounts.ledger(GUILD, ALICE)
    assert entry.explain().endswith(f"— order #{order.id}")


async def test_refund_tells_each_recipient_by_gift_reference(shop: Shop) -> None:
    """Taking gifts back notifies each recipient with their own reference; not the buyer."""
    order, effects = await _paid_gift_order(shop)
    given = {e.member_id: e.gift_ref for e in effects if isinstance(e, GiftNotice)}
    refunded = await shop.fulfilment.apply(_event(order, "refund_succeeded", "evt_refund"))
    withdrawn = {e.member_id: e for e in refunded.effects if isinstance(e, GiftWithdrawn)}
    assert {m: w.gift_ref for m, w in withdrawn.items()} == given
    assert withdrawn[CAROL].description == "1 month of Paid"
    [bob_entry, _] = await shop.accounts.ledger(GUILD, BOB)
    assert bob_entry.explain() == f"-100 points — gift {given[BOB]} taken back"
