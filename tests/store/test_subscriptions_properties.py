"""Properties of subscriptions over generated event sequences (hypothesis).

The clock stands still within a sequence, and every event happened in the hour
before it, so a grace period given is still running and "one interval from the
current end" adds up the same whatever the order of arrival. Each example uses a
fresh member and subscription on the test's database.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store.clock import add_months
from store.db.engine import Conn
from store.db.schema import subscription_periods
from store.shop import Shop
from store.subscriptions import (
    SubscriptionFact,
    SubscriptionStatus,
    decide,
)
from store.subscriptions import SubscriptionFactKind as K
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import GUILD, FakeClock

START = datetime(2026, 3, 10, 12, tzinfo=UTC)
FIRST_END = add_months(START, 1)
GRACE = timedelta(days=3)
_members = itertools.count(20_000)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_invoice_event = st.tuples(
    st.sampled_from([K.INVOICE_PAID, K.INVOICE_FAILED, K.INVOICE_REFUNDED, K.INVOICE_DISPUTE_LOST]),
    st.sampled_from(["in_1", "in_2", "in_3"]),
    st.integers(min_value=1, max_value=59),
)
_other_event = st.tuples(
    st.sampled_from(["cancel", "resume", "ended"]),
    st.none(),
    st.integers(min_value=1, max_value=59),
)
events = st.lists(st.one_of(_invoice_event, _other_event), min_size=1, max_size=10)


def _fact(event: tuple[object, str | None, int]) -> SubscriptionFact:
    """An event `minutes` before the (still) clock."""
    kind, invoice, minutes = event
    at = START - timedelta(minutes=minutes)
    if kind == "cancel":
        return SubscriptionFact(K.STATUS, at, cancel_at_period_end=True, period_end=FIRST_END)
    if kind == "resume":
        return SubscriptionFact(K.STATUS, at, cancel_at_period_end=False, period_end=FIRST_END)
    if kind == "ended":
        return SubscriptionFact(K.ENDED, at)
    assert isinstance(kind, K)
    return SubscriptionFact(kind, at, invoice)


@given(data=st.data(), base=events, now_hours=st.integers(min_value=0, max_value=100))
@SETTINGS
def test_the_decision_does_not_depend_on_order_or_repetition(
    data: st.DataObject, base: list[tuple[object, str | None, int]], now_hours: int
) -> None:
    facts = [_fact(e) for e in base]
    replayed = data.draw(st.permutations(facts + data.draw(st.lists(st.sampled_from(facts)))))
    now = START + timedelta(hours=now_hours)
    assert decide(replayed, now=now, grace=GRACE) == decide(facts, now=now, grace=GRACE)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _expected(facts: list[SubscriptionFact]) -> tuple[set[str], str | None, SubscriptionStatus]:
    """From the issue's rules: the invoices paid and not taken back, the failed renewal
    whose grace runs (the latest failure, unpaid, subscription not ended), the status."""
    paid = {f.invoice_id for f in facts if f.kind is K.INVOICE_PAID}
    taken = {f.invoice_id for f in facts if f.kind in (K.INVOICE_REFUNDED, K.INVOICE_DISPUTE_LOST)}
    held = {i for i in paid - taken if i is not None}
    first_failures: dict[str, datetime] = {}
    for f in facts:
        if f.kind is K.INVOICE_FAILED and f.invoice_id is not None:
            known = first_failures.get(f.invoice_id, f.occurred_at)
            first_failures[f.invoice_id] = min(known, f.occurred_at)
    latest = max(((at, i) for i, at in first_failures.items()), default=None)
    unpaid = latest is not None and latest[1] not in paid
    ended = any(f.kind is K.ENDED for f in facts)
    grace = latest[1] if latest is not None and unpaid and not ended else None
    statuses = [f for f in facts if f.kind is K.STATUS]
    last = max(statuses, key=lambda f: (f.occurred_at, bool(f.cancel_at_period_end)), default=None)
    if ended:
        status = SubscriptionStatus.ENDED
    elif unpaid:
        status = SubscriptionStatus.PAST_DUE
    elif last is not None and last.cancel_at_period_end:
        status = SubscriptionStatus.CANCELING
    else:
        status = SubscriptionStatus.ACTIVE
    return held, grace, status


@pytest.mark.asyncio
@SETTINGS
@given(data=st.data(), base=events)
async def test_the_member_holds_the_periods_paid_and_not_taken_back_plus_the_grace(
    shop: Shop, data: st.DataObject, base: list[tuple[object, str | None, int]]
) -> None:
    """After every event: the tier ends at the first period's end, plus one interval per
    renewal paid and not refunded nor lost, plus the grace while it runs."""
    member = next(_members)
    ref = f"sub_{member}"
    await shop.carts.add(GUILD, member, "paid-1m")
    order = await checkout_paid_by_card(shop, member)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"evt_{member}"))
    facts = [_fact(e) for e in base]
    arrivals = data.draw(st.permutations(facts + data.draw(st.lists(st.sampled_from(facts)))))
    early = data.draw(st.integers(min_value=0, max_value=len(arrivals)))
    for fact in arrivals[:early]:
        await shop.subscriptions.record("fake", ref, fact)
    record = await shop.subscriptions.start(
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
    )

    async def periods(conn: Conn) -> list[tuple[str, str, int, bool]]:
        rows = await conn.execute(
            select(subscription_periods).where(subscription_periods.c.subscription_id == record.id)
        )
        return [(r.invoice_id, r.kind, r.gained_seconds, r.taken_at is None) for r in rows]

    for seen in range(early, len(arrivals) + 1):
        if seen > early:
            await shop.subscriptions.record("fake", ref, arrivals[seen - 1])
        held, grace, status = _expected(arrivals[:seen])
        given = await shop.ctx.db.read(periods)
        kept = {(invoice, kind): timedelta(seconds=s) for invoice, kind, s, live in given if live}
        assert {i for i, k in kept if k == "period"} == held
        assert {i for i, k in kept if k == "grace"} == ({grace} if grace else set())
        # Calendar months differ in length: each renewal added the month from where the
        # end stood, and taking one back removes exactly what it added.
        assert all(timedelta(days=28) <= kept[i, "period"] <= timedelta(days=31) for i in held)
        account = await shop.accounts.account(GUILD, member, recent=0)
        ends = account.memberships[0].expires_at
        grace_time = GRACE if grace else timedelta(0)
        assert ends == FIRST_END + sum(kept.values(), timedelta(0))
        if all(live for _, kind, _, live in given if kind == "period"):
            assert ends == add_months(FIRST_END, len(held)) + grace_time
        current = await shop.subscriptions.get("fake", ref)
        assert current is not None and current.status is status
