"""Subscriptions: renewals extend the tier once each, failures run on for a grace period,
refunds and lost disputes take back their own period, and early facts wait for the start.

The shop's clock starts on March 10th at noon; the order pays the first month, so the
member's tier ends April 10th before any renewal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from store.db.engine import Conn, Database, create_engine
from store.db.schema import ledger
from store.effects import AddRole, RemoveRole, ReviewAlert
from store.errors import InvalidInput
from store.memberships import RENEWAL_WAIT
from store.shop import Shop
from store.subscriptions import (
    SubscriptionFact,
    SubscriptionRecord,
    SubscriptionStatus,
)
from store.subscriptions import SubscriptionFactKind as K
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import ALICE, GUILD, MOD, PAID_ROLE, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio

START = datetime(2026, 3, 10, 12, tzinfo=UTC)
FIRST_END = datetime(2026, 4, 10, 12, tzinfo=UTC)
SECOND_END = datetime(2026, 5, 10, 12, tzinfo=UTC)
THIRD_END = datetime(2026, 6, 10, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def _buy(shop: Shop, sku: str = "paid-1m") -> tuple[int, int, int]:
    """The order that pays the first period: (order id, its line's id, amount)."""
    await shop.carts.add(GUILD, ALICE, sku)
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"evt_{order.id}"))
    return order.id, order.lines[0].id, order.cash_due.amount


async def _start(
    shop: Shop, order: tuple[int, int, int], *, interval: str = "month", sku: str = "paid-1m"
) -> SubscriptionRecord:
    order_id, line_id, amount = order
    return await shop.subscriptions.start(
        shop_id=GUILD,
        member_id=ALICE,
        tier="paid",
        sku=sku,
        interval=interval,
        gateway="fake",
        gateway_ref="sub_1",
        order_id=order_id,
        order_line_id=line_id,
        amount=amount,
        currency="USD",
        first_invoice_id="in_0",
    )


async def _subscribed(shop: Shop) -> SubscriptionRecord:
    return await _start(shop, await _buy(shop))


def _fact(kind: K, invoice: str | None, at: datetime, **more: object) -> SubscriptionFact:
    return SubscriptionFact(kind, at, invoice, **more)  # type: ignore[arg-type]


async def _tell(shop: Shop, fact: SubscriptionFact) -> list[object]:
    return list(await shop.subscriptions.record("fake", "sub_1", fact))


async def _ends(shop: Shop) -> datetime | None:
    account = await shop.accounts.account(GUILD, ALICE, recent=0)
    return next(m.expires_at for m in account.memberships if m.tier == "paid")


async def _status(shop: Shop) -> SubscriptionStatus:
    record = await shop.subscriptions.get("fake", "sub_1")
    assert record is not None
    return record.status


async def _memos(shop: Shop) -> list[tuple[str, int | None, str | None]]:
    async def load(conn: Conn) -> list[tuple[str, int | None, str | None]]:
        rows = await conn.execute(
            select(ledger.c.reason, ledger.c.order_id, ledger.c.memo)
            .where(ledger.c.member_id == ALICE, ledger.c.reason == "subscription")
            .order_by(ledger.c.id)
        )
        return [(r.reason, r.order_id, r.memo) for r in rows]

    return await shop.ctx.db.read(load)


async def test_a_renewal_extends_the_tier_by_one_interval_once_however_often_replayed(
    shop: Shop,
) -> None:
    record = await _subscribed(shop)
    paid = _fact(K.INVOICE_PAID, "in_1", FIRST_END, amount=300)
    effects = await _tell(shop, paid)
    assert effects == [AddRole(member_id=ALICE, tier="paid", role_id=PAID_ROLE)]
    for _ in range(3):
        assert await _tell(shop, paid) == []
    assert await _tell(shop, _fact(K.INVOICE_PAID, "in_1", FIRST_END + timedelta(hours=1))) == []
    assert await _ends(shop) == SECOND_END
    assert await _memos(shop) == [("subscription", record.order_id, "renewal: invoice in_1 paid")]


async def test_a_yearly_subscription_renews_by_twelve_months(shop: Shop) -> None:
    await _start(shop, await _buy(shop, "paid-12m"), interval="year", sku="paid-12m")
    assert await _ends(shop) == datetime(2027, 3, 10, 12, tzinfo=UTC)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    assert await _ends(shop) == datetime(2028, 3, 10, 12, tzinfo=UTC)


async def test_the_first_invoice_is_the_orders_period_and_not_a_renewal(shop: Shop) -> None:
    await _subscribed(shop)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_0", START, period_end=FIRST_END))
    assert await _ends(shop) == FIRST_END
    record = await shop.subscriptions.get("fake", "sub_1")
    assert record is not None and record.current_period_end == FIRST_END


async def test_a_failed_renewal_paid_later_gives_the_period_and_no_grace(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    assert await _ends(shop) == FIRST_END + timedelta(days=3)
    assert await _status(shop) is SubscriptionStatus.PAST_DUE
    clock.advance(days=1)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", clock.now))
    assert await _ends(shop) == SECOND_END
    assert await _status(shop) is SubscriptionStatus.ACTIVE
    assert [memo for _, _, memo in await _memos(shop)] == [
        "grace period: invoice in_1 failed",
        "renewal: invoice in_1 paid",
        "grace taken back: invoice in_1 paid",
    ]


async def test_a_renewal_paid_before_its_failure_arrives_gives_no_grace(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    # The first attempt failed, a retry a minute later paid; their events cross.
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", FIRST_END))
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END - timedelta(minutes=1)))
    assert await _ends(shop) == SECOND_END
    assert await _status(shop) is SubscriptionStatus.ACTIVE
    assert [memo for _, _, memo in await _memos(shop)] == ["renewal: invoice in_1 paid"]


async def test_an_unpaid_failed_renewal_runs_on_for_the_grace_then_lapses(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    clock.advance(days=2)
    assert await shop.memberships.claim_expired() == []
    clock.advance(days=1, seconds=1)
    removed = await shop.memberships.claim_expired()
    assert removed == [RemoveRole(member_id=ALICE, tier="paid", role_id=PAID_ROLE)]
    assert await _status(shop) is SubscriptionStatus.PAST_DUE


async def test_a_grace_that_ran_its_course_stays_used_when_the_renewal_is_paid_late(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    clock.advance(days=10)
    effects = await _tell(shop, _fact(K.INVOICE_PAID, "in_1", clock.now))
    assert effects == [AddRole(member_id=ALICE, tier="paid", role_id=PAID_ROLE)]
    assert await _ends(shop) == datetime(2026, 5, 20, 12, tzinfo=UTC)  # a month from now
    assert [memo for _, _, memo in await _memos(shop)] == [
        "grace period: invoice in_1 failed",
        "renewal: invoice in_1 paid",
    ]


async def test_a_refunded_renewal_takes_back_that_period_only(shop: Shop) -> None:
    await _subscribed(shop)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    await _tell(shop, _fact(K.INVOICE_PAID, "in_2", START + timedelta(minutes=1)))
    assert await _ends(shop) == THIRD_END
    refund = _fact(K.INVOICE_REFUNDED, "in_1", START + timedelta(minutes=2))
    await _tell(shop, refund)
    await _tell(shop, refund)
    in_1_added = SECOND_END - FIRST_END  # April 10th to May 10th: 30 days
    assert await _ends(shop) == THIRD_END - in_1_added
    assert (await _memos(shop))[-1][2] == "renewal taken back: invoice in_1 refunded"


async def test_a_lost_dispute_takes_back_that_renewal_only(shop: Shop) -> None:
    await _subscribed(shop)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    await _tell(shop, _fact(K.INVOICE_PAID, "in_2", START + timedelta(minutes=1)))
    await _tell(shop, _fact(K.INVOICE_DISPUTE_LOST, "in_2", START + timedelta(days=1)))
    assert await _ends(shop) == SECOND_END
    assert await _status(shop) is SubscriptionStatus.ACTIVE


async def test_facts_that_arrive_before_the_start_are_applied_at_start(shop: Shop) -> None:
    order = await _buy(shop)
    assert await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START)) == []
    status = _fact(K.STATUS, None, START, cancel_at_period_end=True, period_end=FIRST_END)
    assert await _tell(shop, status) == []
    assert await _ends(shop) == FIRST_END
    record = await _start(shop, order)
    assert await _ends(shop) == SECOND_END
    assert record.status is SubscriptionStatus.CANCELING
    assert record.current_period_end == FIRST_END


async def test_starting_the_same_subscription_again_changes_nothing(shop: Shop) -> None:
    order = await _buy(shop)
    first = await _start(shop, order)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    again = await _start(shop, order)
    assert again.id == first.id
    assert await _ends(shop) == SECOND_END
    assert [s.id for s in await shop.subscriptions.for_member(GUILD, ALICE)] == [first.id]


async def test_a_subscription_is_for_a_known_tier_and_interval(shop: Shop) -> None:
    order = await _buy(shop)
    with pytest.raises(InvalidInput):
        await _start(shop, order, interval="week")
    assert await shop.subscriptions.for_member(GUILD, ALICE) == []


async def test_cancelling_at_period_end_keeps_the_time_and_resuming_continues(
    shop: Shop,
) -> None:
    await _subscribed(shop)
    later = START + timedelta(days=1)
    await _tell(shop, _fact(K.STATUS, None, START, cancel_at_period_end=True))
    assert await _status(shop) is SubscriptionStatus.CANCELING
    assert await _ends(shop) == FIRST_END
    await _tell(shop, _fact(K.STATUS, None, later, cancel_at_period_end=False))
    # The cancellation reported again, late, is older news than the resumption.
    await _tell(shop, _fact(K.STATUS, None, START, cancel_at_period_end=True))
    record = await shop.subscriptions.get("fake", "sub_1")
    assert record is not None
    assert (record.status, record.cancel_at_period_end) == (SubscriptionStatus.ACTIVE, False)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", later))
    assert await _ends(shop) == SECOND_END


async def test_an_ended_subscription_keeps_the_time_paid_for(shop: Shop) -> None:
    await _subscribed(shop)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    await _tell(shop, _fact(K.ENDED, None, START + timedelta(days=1)))
    assert await _status(shop) is SubscriptionStatus.ENDED
    assert await _ends(shop) == SECOND_END


async def test_an_ended_subscription_withdraws_a_grace_still_running(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    clock.advance(hours=1)
    effects = await _tell(shop, _fact(K.ENDED, None, clock.now))
    assert await _ends(shop) == clock.now
    assert effects == [RemoveRole(member_id=ALICE, tier="paid", role_id=PAID_ROLE)]


async def test_a_fact_about_an_invoice_must_name_it(shop: Shop) -> None:
    with pytest.raises(InvalidInput):
        await _tell(shop, _fact(K.INVOICE_PAID, None, START))


async def test_a_permanent_member_renews_without_error_and_loses_nothing_to_a_refund(
    shop: Shop,
) -> None:
    await _subscribed(shop)
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "lifetime", permanent=True)
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", START))
    await _tell(shop, _fact(K.INVOICE_REFUNDED, "in_1", START + timedelta(minutes=1)))
    account = await shop.accounts.account(GUILD, ALICE, recent=0)
    assert [(m.tier, m.permanent) for m in account.memberships] == [("paid", True)]


async def test_a_shop_can_set_its_own_grace_period(database: Database, clock: FakeClock) -> None:
    config = sample_store(subscription_grace_days=7)
    shop = Shop.build(database, config, sample_tiers(), clock=clock)
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    assert await _ends(shop) == FIRST_END + timedelta(days=7)


@pytest_asyncio.fixture
async def other_process(
    database_url: str, database: Database, clock: FakeClock
) -> AsyncIterator[Shop]:
    db = Database(create_engine(database_url))
    yield Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    await db.dispose()


async def test_renewals_reported_while_another_process_starts_the_subscription_count_once(
    shop: Shop, other_process: Shop
) -> None:
    for round_ in range(8):
        member, ref = 30_000 + round_, f"sub_race_{round_}"
        await shop.carts.add(GUILD, member, "paid-1m")
        order = await checkout_paid_by_card(shop, member)
        await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"evt_{ref}"))
        paid = [_fact(K.INVOICE_PAID, f"in_{n}", START) for n in (1, 1, 2)]
        await asyncio.gather(
            shop.subscriptions.start(
                shop_id=GUILD,
                member_id=member,
                tier="paid",
                sku="paid-1m",
                interval="month",
                gateway="fake",
                gateway_ref=ref,
                order_id=order.id,
                order_line_id=order.lines[0].id,
                amount=300,
                currency="USD",
            ),
            *(other_process.subscriptions.record("fake", ref, fact) for fact in paid),
        )
        account = await shop.accounts.account(GUILD, member, recent=0)
        assert account.memberships[0].expires_at == THIRD_END, f"round {round_}"


@pytest.mark.parametrize("cancel_first", [True, False])
async def test_a_cancel_and_a_resume_reported_in_one_second_agree_in_either_order(
    shop: Shop, cancel_first: bool
) -> None:
    """Gateways stamp events to the second: the same pair decides the same whatever
    arrives first (a cancel wins the tie, so no renewal the member stopped is charged)."""
    await _subscribed(shop)
    cancel = _fact(K.STATUS, None, START, cancel_at_period_end=True, period_end=FIRST_END)
    resume = _fact(K.STATUS, None, START, cancel_at_period_end=False, period_end=FIRST_END)
    for fact in (cancel, resume) if cancel_first else (resume, cancel):
        await _tell(shop, fact)
    assert await _status(shop) is SubscriptionStatus.CANCELING


async def test_a_partial_refund_of_a_renewal_keeps_the_period_and_asks_a_moderator(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", FIRST_END, amount=300, period_end=SECOND_END))
    effects = await _tell(shop, _fact(K.INVOICE_REFUNDED, "in_1", FIRST_END, amount=50))
    assert await _ends(shop) == SECOND_END
    [alert] = [e for e in effects if isinstance(e, ReviewAlert)]
    assert "in_1" in alert.reason and "period stays" in alert.reason


async def test_a_renewal_paid_in_the_grace_still_reaches_the_period_it_paid(
    shop: Shop, clock: FakeClock
) -> None:
    """Failed at the period end, paid a day later: the grace comes off, and the month
    still runs to the end of the period the gateway billed (not a day short of it)."""
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_FAILED, "in_1", FIRST_END))
    clock.advance(days=1)
    billed_until = SECOND_END + timedelta(days=2)  # anchored later than a calendar month
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", clock.now, period_end=billed_until))
    assert await _ends(shop) == billed_until


async def test_a_renewing_tier_outlives_its_end_while_the_renewal_is_billed(
    shop: Shop, clock: FakeClock
) -> None:
    """The gateway bills a little after the period ends: the role is not taken away and
    given back every month, but it goes if no renewal is reported within a day."""
    await _subscribed(shop)
    clock.now = FIRST_END + timedelta(hours=1)
    assert await shop.memberships.claim_expired() == []
    clock.now = FIRST_END + RENEWAL_WAIT + timedelta(seconds=1)
    assert [effect.tier for effect in await shop.memberships.claim_expired()] == ["paid"]


async def test_a_tier_whose_subscription_is_cancelled_ends_on_time(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    await _tell(shop, _fact(K.STATUS, None, START, cancel_at_period_end=True))
    clock.now = FIRST_END + timedelta(hours=1)
    assert [effect.tier for effect in await shop.memberships.claim_expired()] == ["paid"]


async def test_a_renewal_past_the_cancelled_end_shows_it_was_resumed(
    shop: Shop, clock: FakeClock
) -> None:
    """A resume lost in a same-second tie heals at the next renewal: the gateway billed a
    period beyond the end the cancel would have stopped at."""
    await _subscribed(shop)
    await _tell(shop, _fact(K.STATUS, None, START, cancel_at_period_end=True, period_end=FIRST_END))
    await _tell(
        shop, _fact(K.STATUS, None, START, cancel_at_period_end=False, period_end=FIRST_END)
    )
    assert await _status(shop) is SubscriptionStatus.CANCELING
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", FIRST_END, period_end=SECOND_END))
    assert await _status(shop) is SubscriptionStatus.ACTIVE


async def test_a_renewal_refunded_in_two_parts_is_taken_back_when_they_reach_its_amount(
    shop: Shop, clock: FakeClock
) -> None:
    await _subscribed(shop)
    clock.now = FIRST_END
    await _tell(shop, _fact(K.INVOICE_PAID, "in_1", FIRST_END, amount=300, period_end=SECOND_END))
    first = await _tell(
        shop, _fact(K.INVOICE_REFUNDED, "in_1", FIRST_END, amount=100, subject="re_1")
    )
    assert await _ends(shop) == SECOND_END
    assert [e for e in first if isinstance(e, ReviewAlert)]
    await _tell(shop, _fact(K.INVOICE_REFUNDED, "in_1", FIRST_END, amount=200, subject="re_2"))
    await _tell(shop, _fact(K.INVOICE_REFUNDED, "in_1", FIRST_END, amount=200, subject="re_2"))
    assert await _ends(shop) == FIRST_END
