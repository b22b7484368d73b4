"""Random sequences of payment events, in any order, duplicated and replayed (hypothesis).

Each example buys with a fresh buyer and gift recipient on the test's database, then
applies a generated sequence of gateway events. After every step what the members
hold must match the net position of the facts seen so far, computed here from the
events by a plain model independent of the store's code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.accounts import Reason
from store.db.engine import Conn
from store.db.schema import ledger
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import assert_balances_match_ledger, checkout_paid_by_card, gateway_event
from tests.support import GUILD, MOD

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


async def _check(shop: Shop, order: Order, buyer: int, friend: int, seen: set[str]) -> None:
    state, keeps = expected(seen, order.cash_due.amount)
    if order.cash_due.amount == 0:
        state, keeps = OrderState.FULFILLED, True  # no gateway event can move it
    now = await shop.orders.get(GUILD, order.id)
    assert now.state is state, seen
    mine = await shop.accounts.account(GUILD, buyer)
    theirs = await shop.accounts.account(GUILD, friend)
    spent = order.points_applied if keeps else 0
    reserved = order.points_applied if state is OrderState.PENDING else 0
    assert (mine.points, mine.points_reserved) == (GRANTED - spent, reserved), seen
    assert theirs.points == (100 if keeps else 0), seen
    active = [m.tier for m in mine.memberships if m.active]
    assert active == (["paid"] if keeps else []), seen
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
@given(events=st.lists(st.sampled_from(EVENTS), max_size=9))
async def test_members_hold_what_the_facts_say_in_any_order(
    shop: Shop, points: int, events: list[Ev]
) -> None:
    """After every event: holdings match the net position, once, never below zero."""
    buyer, friend = next(_members), next(_members)
    await shop.grants.grant_points(GUILD, MOD, buyer, GRANTED, "property test")
    await shop.carts.add(GUILD, buyer, "paid-1m")
    await shop.carts.add(GUILD, buyer, "points-100", recipient_id=friend)
    order = await checkout_paid_by_card(shop, buyer, points=points)
    seen: set[str] = set()
    await _check(shop, order, buyer, friend, seen)
    for ev in events:
        amount = PART if ev.amount == "part" else None
        await shop.fulfilment.apply(
            gateway_event(
                order, ev.kind, f"{order.id}:{ev.event_id}", amount, subject_id=ev.subject
            )
        )
        seen.add(ev.event_id)
        await _check(shop, order, buyer, friend, seen)
