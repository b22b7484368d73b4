"""Payments become goods exactly once; bad money is held; order of events doesn't matter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.fulfilment import Outcome, PaymentOutcome
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import assert_balances_match_ledger, snapshot
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio


async def _order(shop: Shop, sku: str = "paid-1m", **line: object) -> Order:
    await shop.carts.add(GUILD, ALICE, sku, **line)  # type: ignore[arg-type]
    return await _with_session((await shop.orders.checkout(GUILD, ALICE)).order, shop)


async def _with_session(order: Order, shop: Shop) -> Order:
    return await shop.orders.attach_session(
        order.id,
        gateway="fake",
        session_id=f"cs_{order.id}",
        url="http://pay",
        expires_at=shop.ctx.now() + timedelta(hours=1),
    )


def _event(
    order: Order, kind: str = "payment_succeeded", event_id: str = "evt_1", **kw: object
) -> PaymentOutcome:
    values: dict[str, object] = {
        "gateway": "fake",
        "event_id": event_id,
        "kind": kind,
        "order_id": str(order.id),
        "session_id": order.gateway_session_id,
        "amount": order.cash_due.amount,
        "currency": "usd",
    }
    values.update(kw)
    return PaymentOutcome(**values)  # type: ignore[arg-type]


async def test_payment_grants_time_role_and_receipt(shop: Shop) -> None:
    """A matching payment fulfils: membership, role effect, receipt."""
    order = await _order(shop)
    applied = await shop.fulfilment.apply(_event(order))
    assert applied.outcome is Outcome.APPLIED
    assert [e.kind for e in applied.effects] == ["add_role", "receipt"]
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FULFILLED


async def test_gift_notice_names_the_giver_unless_anonymous(shop: Shop) -> None:
    """Recipients are told who gave, or not, with the note."""
    await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB, note="for you")
    await shop.carts.add(GUILD, ALICE, "paid-1m", recipient_id=MOD, anonymous=True)
    order = await _with_session((await shop.orders.checkout(GUILD, ALICE)).order, shop)
    applied = await shop.fulfilment.apply(_event(order))
    notices = {e.member_id: e for e in applied.effects if e.kind == "gift_notice"}
    assert notices[BOB].giver_id == ALICE and notices[BOB].note == "for you"  # type: ignore[attr-defined]
    assert notices[MOD].giver_id is None  # type: ignore[attr-defined]
    assert (await shop.accounts.account(GUILD, BOB)).points == 100


async def test_same_event_twice_grants_once(shop: Shop) -> None:
    """A redelivered event is a duplicate."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    before = await snapshot(shop.ctx.db)
    again = await shop.fulfilment.apply(_event(order))
    assert again.outcome is Outcome.DUPLICATE
    assert await snapshot(shop.ctx.db) == before


async def test_second_event_for_a_paid_order_grants_nothing(shop: Shop) -> None:
    """Redirect and webhook carry different ids; the order is fulfilled once."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order, event_id="webhook"))
    second = await shop.fulfilment.apply(_event(order, event_id="redirect"))
    assert second.outcome is Outcome.DUPLICATE
    assert len(await shop.accounts.ledger(GUILD, ALICE)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 299}, "Paid $2.99"),
        ({"currency": "eur"}, "Paid in EUR"),
        ({"amount": None}, "did not say"),
    ],
)
async def test_money_that_does_not_match_is_held(
    shop: Shop, change: dict[str, object], reason: str
) -> None:
    """One unit short or another currency: held for review, nothing granted."""
    order = await _order(shop)
    applied = await shop.fulfilment.apply(_event(order, **change))
    assert applied.outcome is Outcome.HELD
    held = await shop.orders.get(GUILD, order.id)
    assert held.state is OrderState.HELD and reason in (held.review_reason or "")
    assert await shop.accounts.ledger(GUILD, ALICE) == []
    assert [e.kind for e in applied.effects] == ["review_alert"]


async def test_event_for_another_members_order_is_refused(shop: Shop) -> None:
    """A session paid for one order cannot pay another."""
    mine = await _order(shop)
    await shop.carts.add(GUILD, BOB, "paid-1m")
    theirs = (await shop.orders.checkout(GUILD, BOB)).order
    theirs = await shop.orders.attach_session(
        theirs.id, gateway="fake", session_id="cs_bob", url="u", expires_at=shop.ctx.now()
    )
    applied = await shop.fulfilment.apply(_event(mine, order_id=str(theirs.id)))
    assert applied.outcome is Outcome.REFUSED
    assert (await shop.orders.get(GUILD, theirs.id)).state is OrderState.PENDING
    assert await shop.accounts.ledger(GUILD, BOB) == []


@pytest.mark.parametrize("order_id", [None, "999999", "not-a-number", "-4"])
async def test_event_without_a_known_order_is_refused(shop: Shop, order_id: str | None) -> None:
    """No order id, or one that doesn't exist: refused, nothing granted."""
    order = await _order(shop)
    applied = await shop.fulfilment.apply(_event(order, order_id=order_id, session_id=None))
    assert applied.outcome is Outcome.REFUSED
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.PENDING


async def test_expired_after_completed_stays_paid(shop: Shop) -> None:
    """A late expiry notice does not undo a payment."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    applied = await shop.fulfilment.apply(_event(order, "checkout_expired", "evt_2"))
    assert applied.outcome is Outcome.IGNORED
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FULFILLED


async def test_payment_after_expiry_wins(shop: Shop) -> None:
    """Money that arrives after the order lapsed still buys it; the cart lines go."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order, "checkout_expired", "evt_exp"))
    assert not (await shop.carts.view(GUILD, ALICE)).is_empty
    applied = await shop.fulfilment.apply(_event(order, event_id="evt_paid"))
    assert applied.outcome is Outcome.APPLIED
    assert (await shop.carts.view(GUILD, ALICE)).is_empty
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FULFILLED


async def test_failed_payment_returns_the_cart(shop: Shop) -> None:
    """A declined card puts the lines back."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order, "payment_failed"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FAILED
    assert len((await shop.carts.view(GUILD, ALICE)).lines) == 1


async def test_pending_payment_grants_nothing(shop: Shop) -> None:
    """Completed-but-unpaid waits for the outcome."""
    order = await _order(shop)
    applied = await shop.fulfilment.apply(_event(order, "payment_pending"))
    assert applied.outcome is Outcome.IGNORED
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.PENDING


async def test_full_refund_claws_back_time_and_role(shop: Shop, clock: FakeClock) -> None:
    """A refund shortens the membership by what the order gave and removes the role."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    clock.advance(days=1)
    applied = await shop.fulfilment.apply(_event(order, "refund_succeeded", "evt_r"))
    assert {e.kind for e in applied.effects} == {"remove_role", "refund_notice"}
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED
    account = await shop.accounts.account(GUILD, ALICE)
    assert not account.memberships[0].active


async def test_refund_of_stacked_time_keeps_the_earlier_time(shop: Shop) -> None:
    """Only the refunded order's months come off."""
    first = await _order(shop)
    await shop.fulfilment.apply(_event(first, event_id="a"))
    second = await _order(shop, "paid-12m")
    await shop.fulfilment.apply(_event(second, event_id="b"))
    await shop.fulfilment.apply(_event(second, "refund_succeeded", "c"))
    account = await shop.accounts.account(GUILD, ALICE)
    expiry = account.memberships[0].expires_at
    assert expiry is not None and expiry.month == 2 and expiry.day == 28


async def test_refund_of_spent_points_flags_the_shortfall(shop: Shop) -> None:
    """Points already spent can't be taken back below zero; a moderator is alerted."""
    order = await _order(shop, "points-100")
    await shop.fulfilment.apply(_event(order))
    await shop.grants.revoke_points(GUILD, MOD, ALICE, 70, "spent elsewhere")
    applied = await shop.fulfilment.apply(_event(order, "refund_succeeded", "r"))
    alerts = [e for e in applied.effects if e.kind == "review_alert"]
    assert alerts and "only 30 of 100" in alerts[0].reason  # type: ignore[attr-defined]
    assert (await shop.accounts.account(GUILD, ALICE)).points == 0
    await assert_balances_match_ledger(shop.ctx.db)


async def test_partial_refund_marks_the_order_and_alerts(shop: Shop) -> None:
    """Part of the money back: partially refunded, a moderator decides the rest."""
    order = await _order(shop, "paid-12m")
    await shop.fulfilment.apply(_event(order))
    applied = await shop.fulfilment.apply(_event(order, "refund_succeeded", "r", amount=500))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.PARTIALLY_REFUNDED
    assert "review_alert" in {e.kind for e in applied.effects}
    await shop.fulfilment.apply(_event(order, "refund_succeeded", "r2", amount=2000))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED


async def test_refund_before_payment_waits_then_counts(shop: Shop) -> None:
    """Out of order: the refund waits; the payment then ends refunded, granting nothing."""
    order = await _order(shop)
    early = await shop.fulfilment.apply(_event(order, "refund_succeeded", "r"))
    assert early.outcome is Outcome.DEFERRED
    await shop.fulfilment.apply(_event(order))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED
    assert await shop.accounts.ledger(GUILD, ALICE) == []


async def test_dispute_won_returns_to_fulfilled(shop: Shop) -> None:
    """A dispute that the shop wins changes nothing granted."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    await shop.fulfilment.apply(_event(order, "dispute_opened", "d1"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.DISPUTED
    await shop.fulfilment.apply(_event(order, "dispute_won", "d2"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FULFILLED
    assert (await shop.accounts.account(GUILD, ALICE)).memberships[0].active


async def test_dispute_lost_is_a_chargeback_that_claws_back(shop: Shop) -> None:
    """A lost dispute takes back the time."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    await shop.fulfilment.apply(_event(order, "dispute_opened", "d1"))
    applied = await shop.fulfilment.apply(_event(order, "dispute_lost", "d2"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.CHARGED_BACK
    assert "remove_role" in {e.kind for e in applied.effects}


async def test_dispute_closed_before_opened(shop: Shop) -> None:
    """Lost arrives first: charged back; the late 'opened' changes nothing."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    await shop.fulfilment.apply(_event(order, "dispute_lost", "d2"))
    before = await shop.accounts.ledger(GUILD, ALICE)
    late = await shop.fulfilment.apply(_event(order, "dispute_opened", "d1"))
    assert late.effects == []
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.CHARGED_BACK
    assert await shop.accounts.ledger(GUILD, ALICE) == before


async def test_recorded_event_is_applied_later_once(shop: Shop) -> None:
    """Stored first, applied after: the crash-safe webhook path."""
    order = await _order(shop)
    assert await shop.fulfilment.record(_event(order))
    assert not await shop.fulfilment.record(_event(order))
    assert await shop.fulfilment.unapplied() == [("fake", "evt_1")]
    applied = await shop.fulfilment.process("fake", "evt_1")
    assert applied.outcome is Outcome.APPLIED
    assert await shop.fulfilment.unapplied() == []
    assert (await shop.fulfilment.process("fake", "evt_1")).outcome is Outcome.DUPLICATE


async def test_unknown_event_kinds_are_ignored(shop: Shop) -> None:
    """A kind the store doesn't know changes nothing."""
    order = await _order(shop)
    applied = await shop.fulfilment.apply(_event(order, "payout_sent"))
    assert applied.outcome is Outcome.IGNORED
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.PENDING


async def test_effects_are_kept_in_the_outbox_until_done(shop: Shop) -> None:
    """Fulfilment effects wait in the outbox; a claim leases them once."""
    order = await _order(shop)
    await shop.fulfilment.apply(_event(order))
    claimed = await shop.outbox.claim()
    assert [c.effect.kind for c in claimed] == ["add_role", "receipt"]
    assert await shop.outbox.claim() == []
    for stored in claimed:
        await shop.outbox.done(stored.id)
    assert await shop.outbox.pending_count() == 0
