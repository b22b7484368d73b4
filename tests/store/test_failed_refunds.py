"""A refund that fails gives back exactly what its take-back took, never more."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from store.clock import add_months
from store.effects import Effect, GiftNotice, GiftRestored, GiftWithdrawn
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import assert_balances_match_ledger, checkout_paid_by_card, gateway_event
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio
S = OrderState


async def _paid(shop: Shop, sku: str, **line: object) -> tuple[Order, list[Effect]]:
    await shop.carts.add(GUILD, ALICE, sku, **line)  # type: ignore[arg-type]
    order = await checkout_paid_by_card(shop, ALICE)
    applied = await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "pay"))
    return order, applied.effects


async def _refund(shop: Shop, order: Order, subject: str) -> list[Effect]:
    event = gateway_event(order, "refund_succeeded", f"{subject}:ok", subject_id=subject)
    return (await shop.fulfilment.apply(event)).effects


async def _refund_fails(shop: Shop, order: Order, subject: str) -> list[Effect]:
    event = gateway_event(order, "refund_failed", f"{subject}:failed", subject_id=subject)
    return (await shop.fulfilment.apply(event)).effects


async def _paid_until(shop: Shop, member: int = ALICE) -> datetime | None:
    [membership] = (await shop.accounts.account(GUILD, member)).memberships
    return membership.expires_at


async def test_a_gift_of_points_partly_spent_comes_back_as_much_as_was_taken(shop: Shop) -> None:
    """Bob spent 80 of 100 gifted points; the refund took 20, its failure gives back 20."""
    order, _ = await _paid(shop, "points-100", recipient_id=BOB)
    await shop.grants.revoke_points(GUILD, MOD, BOB, 80, "spent in the shop")
    await _refund(shop, order, "re")
    assert (await shop.accounts.account(GUILD, BOB)).points == 0
    await _refund_fails(shop, order, "re")
    assert (await shop.orders.get(GUILD, order.id)).state is S.FULFILLED
    assert (await shop.accounts.account(GUILD, BOB)).points == 20
    await assert_balances_match_ledger(shop.ctx.db)


async def test_points_taken_back_in_full_come_back_in_full(shop: Shop) -> None:
    """Nothing spent: the take-back took 100, the failure gives back 100."""
    order, _ = await _paid(shop, "points-100", recipient_id=BOB)
    await _refund(shop, order, "re")
    await _refund_fails(shop, order, "re")
    assert (await shop.accounts.account(GUILD, BOB)).points == 100


async def test_time_comes_back_as_much_as_the_take_back_removed(
    shop: Shop, clock: FakeClock
) -> None:
    """Refunded on day 20 (used time stays used), failed on day 21: the unused days return."""
    start = clock.now
    order, _ = await _paid(shop, "paid-1m")
    month = add_months(start, 1) - start
    clock.advance(days=20)
    await _refund(shop, order, "re")
    assert await _paid_until(shop) == clock.now
    clock.advance(days=1)
    effects = await _refund_fails(shop, order, "re")
    assert await _paid_until(shop) == clock.now + month - timedelta(days=20)
    assert "add_role" in {e.kind for e in effects}


async def test_time_given_back_is_taken_back_once_by_the_next_refund(
    shop: Shop, clock: FakeClock
) -> None:
    """Refund, failure, refund again: the membership ends now, not earlier, and once."""
    order, _ = await _paid(shop, "paid-1m")
    clock.advance(days=10)
    await _refund(shop, order, "re1")
    clock.advance(days=1)
    await _refund_fails(shop, order, "re1")
    clock.advance(days=2)
    effects = await _refund(shop, order, "re2")
    assert await _paid_until(shop) == clock.now
    assert "remove_role" in {e.kind for e in effects}
    assert (await shop.orders.get(GUILD, order.id)).state is S.REFUNDED


async def test_a_permanent_membership_comes_back_permanent(shop: Shop, clock: FakeClock) -> None:
    """Taking back permanence and giving it back leaves it permanent, with no end date."""
    order, _ = await _paid(shop, "paid-forever")
    clock.advance(days=3)
    await _refund(shop, order, "re")
    clock.advance(days=1)
    await _refund_fails(shop, order, "re")
    [membership] = (await shop.accounts.account(GUILD, ALICE)).memberships
    assert membership.permanent and membership.active


async def test_a_recipient_is_told_their_gift_is_back_by_its_reference(shop: Shop) -> None:
    """Withdrawn, then restored: both notices name the gift's reference, never the order."""
    order, effects = await _paid(shop, "points-100", recipient_id=BOB)
    [notice] = [e for e in effects if isinstance(e, GiftNotice)]
    [withdrawn] = [e for e in await _refund(shop, order, "re") if isinstance(e, GiftWithdrawn)]
    [restored] = [e for e in await _refund_fails(shop, order, "re") if isinstance(e, GiftRestored)]
    assert restored.member_id == BOB
    assert restored.gift_ref == withdrawn.gift_ref == notice.gift_ref
    assert restored.description == "100 points"
    assert set(restored.payload()) == {"gift_ref", "description"}  # no order number


async def test_the_buyer_is_not_sent_a_gift_notice_for_their_own_line(shop: Shop) -> None:
    """A line the buyer bought for themselves comes back without any gift notice."""
    order, _ = await _paid(shop, "paid-1m")
    await _refund(shop, order, "re")
    effects = await _refund_fails(shop, order, "re")
    assert not [e for e in effects if isinstance(e, GiftRestored | GiftNotice)]


async def test_time_given_back_does_not_repeat_a_reminder_already_sent(
    shop: Shop, clock: FakeClock
) -> None:
    """14-day reminder sent, refunded, refund failed: the 14-day step is not sent again."""
    order, _ = await _paid(shop, "paid-1m")
    clock.now = add_months(clock.now, 1) - timedelta(days=13)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]
    await _refund(shop, order, "re")
    clock.advance(hours=1)
    await _refund_fails(shop, order, "re")
    assert await shop.memberships.claim_reminders() == []
    clock.advance(days=10)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [3]
