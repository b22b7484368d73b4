"""Reminders of a tier an active subscription renews speak of the renewal and its price;
once the subscription is set to cancel, fails to renew or ends, they speak of the end.

The clock starts on March 10th at noon; the order pays the first month, so the tier ends
April 10th and the first reminder (14 days before) is due March 27th.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.effects import ExpiryReminder, effect_from_row
from store.shop import Shop
from store.subscriptions import SubscriptionFact, SubscriptionStatus
from store.subscriptions import SubscriptionFactKind as K
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import ALICE, BOB, GUILD, FakeClock

START = datetime(2026, 3, 10, 12, tzinfo=UTC)
FIRST_END = datetime(2026, 4, 10, 12, tzinfo=UTC)
FIRST_REMINDER = FIRST_END - timedelta(days=14)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def _buy(shop: Shop, member: int = ALICE) -> tuple[int, int, int]:
    await shop.carts.add(GUILD, member, "paid-1m")
    order = await checkout_paid_by_card(shop, member)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"evt_{order.id}"))
    return order.id, order.lines[0].id, order.cash_due.amount


async def _subscribe(shop: Shop, member: int = ALICE, *, tier: str = "paid") -> None:
    order_id, line_id, amount = await _buy(shop, member)
    await shop.subscriptions.start(
        shop_id=GUILD,
        member_id=member,
        tier=tier,
        sku="paid-1m",
        interval="month",
        gateway="fake",
        gateway_ref=f"sub_{member}_{tier}",
        order_id=order_id,
        order_line_id=line_id,
        amount=amount,
        currency="USD",
        first_invoice_id="in_0",
    )


async def _tell(shop: Shop, kind: K, **more: object) -> None:
    fact = SubscriptionFact(kind, datetime(2026, 3, 20, tzinfo=UTC), **more)  # type: ignore[arg-type]
    await shop.subscriptions.record("fake", f"sub_{ALICE}_paid", fact)


async def _reminders_on(shop: Shop, clock: FakeClock, day: datetime) -> list[ExpiryReminder]:
    clock.now = day
    return await shop.memberships.claim_reminders()


@pytest.mark.asyncio
async def test_an_active_subscriptions_reminder_speaks_of_renewal_and_its_price(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribe(shop)
    [reminder] = await _reminders_on(shop, clock, FIRST_REMINDER)
    assert (reminder.renews, reminder.amount, reminder.currency) == (True, 300, "USD")
    assert (reminder.tier, reminder.expires_at, reminder.days) == ("paid", FIRST_END, 14)


@pytest.mark.asyncio
async def test_a_subscription_set_to_cancel_is_reminded_of_its_end(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribe(shop)
    await _tell(shop, K.STATUS, cancel_at_period_end=True, period_end=FIRST_END)
    [sub] = await shop.subscriptions.for_member(GUILD, ALICE)
    assert sub.status is SubscriptionStatus.CANCELING
    [reminder] = await _reminders_on(shop, clock, FIRST_REMINDER)
    assert (reminder.renews, reminder.amount, reminder.currency) == (False, None, None)


@pytest.mark.asyncio
async def test_a_subscription_that_ended_is_reminded_of_its_end(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribe(shop)
    await _tell(shop, K.ENDED)
    [reminder] = await _reminders_on(shop, clock, FIRST_REMINDER)
    assert not reminder.renews


@pytest.mark.asyncio
async def test_a_past_due_subscription_is_reminded_of_its_end(shop: Shop, clock: FakeClock) -> None:
    await _subscribe(shop)
    await _tell(shop, K.INVOICE_FAILED, invoice_id="in_1", amount=300)
    [sub] = await shop.subscriptions.for_member(GUILD, ALICE)
    assert sub.status is SubscriptionStatus.PAST_DUE
    account = await shop.accounts.account(GUILD, ALICE, recent=0)
    [ends] = [m.expires_at for m in account.memberships if m.tier == "paid"]
    assert ends is not None and ends > FIRST_END  # the grace runs on
    [reminder] = await _reminders_on(shop, clock, ends - timedelta(days=14))
    assert not reminder.renews


@pytest.mark.asyncio
async def test_another_members_subscription_does_not_make_a_one_off_membership_renew(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribe(shop, BOB)
    await _buy(shop, ALICE)
    reminders = await _reminders_on(shop, clock, FIRST_REMINDER)
    assert {(r.member_id, r.renews) for r in reminders} == {(ALICE, False), (BOB, True)}


@pytest.mark.asyncio
async def test_the_renewal_travels_through_the_outbox(shop: Shop, clock: FakeClock) -> None:
    await _subscribe(shop)
    await _reminders_on(shop, clock, FIRST_REMINDER)
    stored = [s.effect for s in await shop.outbox.claim()]
    [reminder] = [e for e in stored if isinstance(e, ExpiryReminder)]
    assert (reminder.renews, reminder.amount, reminder.currency) == (True, 300, "USD")


def test_a_reminder_stored_before_subscriptions_still_loads_as_an_expiry() -> None:
    old = {"tier": "paid", "expires_at": FIRST_END.isoformat(), "days": 3}
    reminder = effect_from_row("expiry_reminder", ALICE, old)
    assert reminder == ExpiryReminder(ALICE, "paid", FIRST_END, 3)
    assert not reminder.renews
