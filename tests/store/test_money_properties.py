"""Random sequences of payment events, in any order, duplicated and replayed (hypothesis).

Each example buys with a fresh buyer and gift recipient on the test's database, then
applies a generated sequence of gateway events, with days passing and the recipient
spending gifted points in between. After every step what the members hold must match
the net position of the facts seen so far, computed here from the events by a plain
model independent of the store's code: the recipient holds the gift less what they
spent while the order keeps its goods, nothing otherwise; the buyer's membership time
(used so far plus what is left) is one month while the order keeps its goods, and
nothing is left otherwise — a refund that fails gives back what was taken, no more.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.accounts import Reason
from store.clock import add_months
from store.db.engine import Conn
from store.db.schema import ledger
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import assert_balances_match_ledger, checkout_paid_by_card, gateway_event
from tests.support import GUILD, MOD, FakeClock

_members = itertools.count(20_000)
GRANTED = 500  # points each buyer starts with


@dataclass(frozen=True)
class Ev:
    """One generated gateway event: its id, kind, subject and amount ("due" or "part")."""

    event_id: str
    kind: str
    subject: str | None = None
    amount: str = "due"


EVENTS = [
    Ev("pay", "payment_succeeded"),
    Ev("pay-replayed-by-reconcile", "payment_succeeded"),
    Ev("re_full:ok", "refund_succeeded", "re_full"),
    Ev("re_full:failed", "refund_failed", "re_full"),
    Ev("re_part:ok", "refund_succeeded", "re_part", "part"),
    Ev("dp:opened", "dispute_opened", "dp"),
    Ev("dp:withdrawn", "dispute_funds_withdrawn", "dp"),
    Ev("dp:reinstated", "dispute_funds_reinstated", "dp"),
    Ev("dp:won", "dispute_won", "dp"),
    Ev("dp:lost", "dispute_lost", "dp"),
]
PART = 100
GIFT = 100  # points the recipient is given
SPEND = 30  # points the recipient spends at a time, when they have them


@dataclass(frozen=True)
class Spend:
    """The recipient spends some of the gifted points (up to SPEND)."""


@dataclass(frozen=True)
class Wait:
    """Days pass before the next event: membership time is used."""

    days: int


STEPS: list[Ev | Spend | Wait] = [*EVENTS, Spend(), Wait(1), Wait(12), Wait(40)]


@dataclass
class Usage:
    """What the members did between events, as the model needs it."""

    spent: int = 0  # points the recipient spent
    used: timedelta = timedelta(0)  # membership time the buyer has had so far
    granted_at: datetime | None = None  # when the order first gave its goods


def expected(seen: set[str], cash_due: int) -> tuple[OrderState, bool]:
    """The net position: the order's state and whether the members keep the goods."""
    if not seen & {"pay", "pay-replayed-by-reconcile"}:
        return OrderState.PENDING, False
    refunded = 0
    if "re_full:ok" in seen and "re_full:failed" not in seen:
        refunded += cash_due
    if "re_part:ok" in seen:
        refunded += PART
    if "dp:lost" in seen:
        return OrderState.CHARGED_BACK, False
    if refunded >= cash_due:
        return OrderState.REFUNDED, False
    if seen & {"dp:opened", "dp:withdrawn", "dp:reinstated"} and "dp:won" not in seen:
        return OrderState.DISPUTED, True
    if refunded:
        return OrderState.PARTIALLY_REFUNDED, True
    return OrderState.FULFILLED, True


async def _grants_per_line(shop: Shop, order: Order) -> dict[int, int]:
    """Per line: times applied minus times taken back, from the ledger."""

    async def count(conn: Conn) -> dict[int, int]:
        rows = await conn.execute(
            select(ledger.c.order_line_id, ledger.c.reason, func.count())
            .where(ledger.c.order_id == order.id, ledger.c.order_line_id.is_not(None))
            .group_by(ledger.c.order_line_id, ledger.c.reason)
        )
        net: dict[int, int] = {}
        for line_id, reason, n in rows:
            sign = 1 if reason == Reason.ORDER_LINE.value else -1
            net[int(line_id)] = net.get(int(line_id), 0) + sign * int(n)
        return net

    return await shop.ctx.db.read(count)


def _keeps(order: Order, seen: set[str]) -> tuple[OrderState, bool]:
    if order.cash_due.amount == 0:
        return OrderState.FULFILLED, True  # no gateway event can move it
    return expected(seen, order.cash_due.amount)


async def _time_left(shop: Shop, buyer: int) -> timedelta:
    """How much of the buyer's membership is still to come."""
    memberships = (await shop.accounts.account(GUILD, buyer)).memberships
    if not memberships or memberships[0].expires_at is None:
        return timedelta(0)
    return max(memberships[0].expires_at - shop.ctx.now(), timedelta(0))


async def _check(
    shop: Shop, order: Order, buyer: int, friend: int, seen: set[str], usage: Usage
) -> None:
    state, keeps = _keeps(order, seen)
    now = await shop.orders.get(GUILD, order.id)
    assert now.state is state, seen
    mine = await shop.accounts.account(GUILD, buyer)
    theirs = await shop.accounts.account(GUILD, friend)
    spent = order.points_applied if keeps else 0
    reserved = order.points_applied if state is OrderState.PENDING else 0
    assert (mine.points, mine.points_reserved) == (GRANTED - spent, reserved), seen
    assert theirs.points == (GIFT - usage.spent if keeps else 0), (seen, usage)
    left = await _time_left(shop, buyer)
    if keeps:
        assert usage.granted_at is not None
        month = add_months(usage.granted_at, 1) - usage.granted_at
        assert usage.used + left == month, (seen, usage, left)
    else:
        assert left == timedelta(0), (seen, usage)
    active = [m.tier for m in mine.memberships if m.active]
    assert active == (["paid"] if left else []), seen
    assert set((await _grants_per_line(shop, order)).values()) <= {0, 1}, "granted twice"
    assert (await _grants_per_line(shop, order)).get(order.lines[0].id, 0) == int(keeps)
    assert mine.points >= 0 and theirs.points >= 0
    await assert_balances_match_ledger(shop.ctx.db)


MONEY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.asyncio
@pytest.mark.parametrize("points", [0, 50, 1000], ids=["card", "card+points", "points-only"])
@MONEY_SETTINGS
@given(steps=st.lists(st.sampled_from(STEPS), max_size=12))
# The two failed-refund cases a reviewer found: a gift partly spent before its refund,
# and a refund on day 20 of a month failing on day 21. Each once gave back too much.
@example(steps=[EVENTS[0], Spend(), Spend(), Spend(), EVENTS[2], EVENTS[3]])
@example(steps=[EVENTS[0], Wait(12), Wait(12), EVENTS[2], Wait(1), EVENTS[3], Wait(1)])
async def test_members_hold_what_the_facts_say_in_any_order(
    shop: Shop, clock: FakeClock, points: int, steps: list[Ev | Spend | Wait]
) -> None:
    """After every step: holdings match the net position, once, never below zero."""
    buyer, friend = next(_members), next(_members)
    await shop.grants.grant_points(GUILD, MOD, buyer, GRANTED, "property test")
    await shop.carts.add(GUILD, buyer, "paid-1m")
    await shop.carts.add(GUILD, buyer, "points-100", recipient_id=friend)
    order = await checkout_paid_by_card(shop, buyer, points=points)
    seen: set[str] = set()
    usage = Usage()
    for step in [None, *steps]:
        if isinstance(step, Wait):
            period = timedelta(days=step.days)
            usage.used += min(await _time_left(shop, buyer), period)
            clock.advance(days=step.days)
        elif isinstance(step, Spend):
            balance = (await shop.accounts.account(GUILD, friend)).points
            if balance:
                amount = min(SPEND, balance)
                await shop.grants.revoke_points(GUILD, MOD, friend, amount, "spent")
                usage.spent += amount
        elif isinstance(step, Ev):
            amount = PART if step.amount == "part" else None
            await shop.fulfilment.apply(
                gateway_event(
                    order, step.kind, f"{order.id}:{step.event_id}", amount, subject_id=step.subject
                )
            )
            seen.add(step.event_id)
        if usage.granted_at is None and _keeps(order, seen)[1]:
            usage.granted_at = clock.now
        await _check(shop, order, buyer, friend, seen, usage)
