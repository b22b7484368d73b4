"""Invariants read straight from the database after a faulty run.

Each check returns the problems it found (empty when the data is sound), so a test
can report every broken invariant at once, with figures for RELIABILITY.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.accounts import Reason
from store.db.schema import (
    accounts,
    cart_lines,
    carts,
    effects,
    ledger,
    order_lines,
    orders,
    payment_events,
)
from store.orders import LAPSED_STATES, OrderState


@dataclass
class Audit:
    orders: dict[int, str] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    fulfilled: set[int] = field(default_factory=set)
    ledger_entries: int = 0
    grants_per_line: Counter[int] = field(default_factory=Counter)
    receipts_per_order: Counter[int] = field(default_factory=Counter)
    events: int = 0
    unapplied_events: int = 0
    pending_effects: int = 0
    held_lines: Counter[tuple[int, str]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.grants_per_line.values() if count > 1)


async def audit(engine: AsyncEngine) -> Audit:
    """Read orders, lines, ledger, accounts, events and effects, and check they agree."""
    result = Audit()
    async with engine.connect() as conn:
        order_rows = (await conn.execute(select(orders))).all()
        line_rows = (await conn.execute(select(order_lines))).all()
        ledger_rows = (await conn.execute(select(ledger).order_by(ledger.c.id))).all()
        account_rows = (await conn.execute(select(accounts))).all()
        event_rows = (await conn.execute(select(payment_events))).all()
        effect_rows = (await conn.execute(select(effects))).all()
        cart_rows = (
            await conn.execute(
                select(carts.c.member_id, cart_lines.c.sku, cart_lines.c.quantity).join(
                    cart_lines, cart_lines.c.cart_id == carts.c.id
                )
            )
        ).all()
    problems = result.problems
    states = {int(row.id): str(row.state) for row in order_rows}
    result.orders = states
    result.sessions = {
        str(row.gateway_session_id): int(row.id) for row in order_rows if row.gateway_session_id
    }
    result.fulfilled = {i for i, s in states.items() if s == OrderState.FULFILLED.value}
    buyers = {int(row.id): int(row.buyer_id) for row in order_rows}
    result.ledger_entries = len(ledger_rows)
    ids = [int(row.id) for row in ledger_rows]
    if ids != list(range(1, len(ids) + 1)):
        problems.append(f"ledger ids have gaps: {ids[:20]}…")
    for row in ledger_rows:
        if row.reason == Reason.ORDER_LINE.value:
            result.grants_per_line[int(row.order_line_id)] += 1
    for line_id, count in result.grants_per_line.items():
        if count != 1:
            problems.append(f"order line {line_id} granted {count} times")
    for line in line_rows:
        order_id = int(line.order_id)
        granted = result.grants_per_line.get(int(line.id), 0)
        if order_id in result.fulfilled and (line.applied_at is None or granted != 1):
            problems.append(f"line {line.id} of fulfilled order {order_id} granted {granted}×")
        if order_id not in result.fulfilled and granted:
            problems.append(f"line {line.id} of {states[order_id]} order {order_id} was granted")
        if OrderState(states[order_id]) not in LAPSED_STATES:
            result.held_lines[(buyers[order_id], str(line.sku))] += int(line.quantity)
    for row in cart_rows:
        result.held_lines[(int(row.member_id), str(row.sku))] += int(row.quantity)
    totals: defaultdict[int, int] = defaultdict(int)
    for row in ledger_rows:
        totals[int(row.member_id)] += int(row.points_delta or 0)
    for row in account_rows:
        if int(row.points) != totals[int(row.member_id)]:
            problems.append(
                f"member {row.member_id} holds {row.points} points, ledger says "
                f"{totals[int(row.member_id)]}"
            )
    result.events = len(event_rows)
    result.unapplied_events = sum(
        1 for row in event_rows if row.applied_at is None and row.outcome is None
    )
    for row in effect_rows:
        if row.kind == "receipt" and row.order_id is not None:
            result.receipts_per_order[int(row.order_id)] += 1
    result.pending_effects = sum(1 for row in effect_rows if row.done_at is None)
    for order_id in result.fulfilled:
        if result.receipts_per_order.get(order_id, 0) != 1:
            count = result.receipts_per_order.get(order_id, 0)
            problems.append(f"order {order_id} has {count} receipts")
    return result
