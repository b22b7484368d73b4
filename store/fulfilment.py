"""Turning verified payment events into what was bought — exactly once.

An event is first recorded uniquely by (gateway, event id); applying it locks the
event and the order in one transaction with every grant, so a duplicate event, a
redirect racing its webhook or two processes at once grant once. Money that does
not match the order holds it for review and grants nothing. Refunds and disputes
that arrive before the payment wait (deferred) and are applied right after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from store.accounts import AccountBook, Reason, Source
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import cart_lines, order_lines, orders, payment_events
from store.db.sql import insert_ignore
from store.effects import Effect, GiftNotice, Receipt, RefundNotice, ReviewAlert
from store.errors import InsufficientPoints
from store.kinds.base import PaidLine
from store.money import Money
from store.orders import (
    LAPSED_STATES,
    SETTLED_STATES,
    OrderState,
    lapse_order,
    lock_order,
    set_state,
)
from store.outbox import store_effects

S = OrderState


class EventKind(StrEnum):
    """Normalized gateway events, as the payments package reports them."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_PENDING = "payment_pending"
    PAYMENT_FAILED = "payment_failed"
    CHECKOUT_EXPIRED = "checkout_expired"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    HELD = "held"
    DEFERRED = "deferred"
    IGNORED = "ignored"


@dataclass(frozen=True)
class PaymentOutcome:
    """A verified gateway event, with no gateway types in it."""

    gateway: str
    event_id: str
    kind: str
    order_id: str | None
    session_id: str | None = None
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    order_id: int | None
    effects: list[Effect]
    detail: str = ""


class Fulfilment:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def record(self, event: PaymentOutcome) -> bool:
        """Store a verified event before acknowledging it; False if already stored."""
        return await self.ctx.db.write(lambda conn: _record(conn, event, self.ctx.now()))

    async def apply(self, event: PaymentOutcome) -> Applied:
        """Record and apply in one transaction (the redirect path, reconciliation, tests)."""

        async def apply(conn: Conn) -> Applied:
            await _record(conn, event, self.ctx.now())
            applied = await _process(self.ctx, conn, event.gateway, event.event_id)
            await self._keep(conn, applied)
            return applied

        return await self.ctx.db.write(apply)

    async def process(self, gateway: str, event_id: str) -> Applied:
        """Apply a recorded event; a second call finds it applied and does nothing."""

        async def process(conn: Conn) -> Applied:
            applied = await _process(self.ctx, conn, gateway, event_id)
            await self._keep(conn, applied)
            return applied

        return await self.ctx.db.write(process)

    async def _keep(self, conn: Conn, applied: Applied) -> None:
        await store_effects(conn, applied.effects, order_id=applied.order_id, now=self.ctx.now())

    async def unapplied(self, limit: int = 100) -> list[tuple[str, str]]:
        """Recorded events not yet applied (after a crash), oldest first; deferred excluded."""

        async def unapplied(conn: Conn) -> list[tuple[str, str]]:
            rows = await conn.execute(
                select(payment_events.c.gateway, payment_events.c.event_id)
                .where(payment_events.c.applied_at.is_(None))
                .where(payment_events.c.outcome.is_(None))
                .order_by(payment_events.c.id)
                .limit(limit)
            )
            return [(r.gateway, r.event_id) for r in rows]

        return await self.ctx.db.read(unapplied)


async def _record(conn: Conn, event: PaymentOutcome, now: datetime) -> bool:
    return await insert_ignore(
        conn,
        payment_events,
        {
            "gateway": event.gateway,
            "event_id": event.event_id,
            "kind": event.kind,
            "order_id": _order_id(event.order_id),
            "session_id": event.session_id,
            "amount": event.amount,
            "currency": event.currency.upper() if event.currency else None,
            "received_at": now,
        },
        conflict=["gateway", "event_id"],
    )


def _order_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


async def _process(ctx: StoreContext, conn: Conn, gateway: str, event_id: str) -> Applied:
    now = ctx.now()
    event = (
        await conn.execute(
            select(payment_events)
            .where(payment_events.c.gateway == gateway, payment_events.c.event_id == event_id)
            .with_for_update()
        )
    ).one()
    if event.applied_at is not None:
        return Applied(Outcome.DUPLICATE, event.order_id, [], "event already applied")
    if event.outcome == Outcome.DEFERRED.value:
        return Applied(Outcome.DEFERRED, event.order_id, [], "waiting for the payment")
    applied = await _dispatch(ctx, conn, event, now)
    if applied.outcome is not Outcome.DEFERRED:
        await conn.execute(
            update(payment_events)
            .where(payment_events.c.id == event.id)
            .values(applied_at=now, outcome=applied.outcome.value, detail=applied.detail[:500])
        )
    else:
        await conn.execute(
            update(payment_events)
            .where(payment_events.c.id == event.id)
            .values(outcome=Outcome.DEFERRED.value, detail=applied.detail[:500])
        )
    return applied


async def _dispatch(ctx: StoreContext, conn: Conn, event: Any, now: datetime) -> Applied:
    kind = event.kind
    if kind not in EventKind.__members__.values():
        return Applied(Outcome.IGNORED, event.order_id, [], f"unknown event kind {kind}")
    if event.order_id is None:
        return _hold_event(event, "the event names no order of this shop")
    order = await lock_order(conn, int(event.order_id))
    if order is None:
        return _hold_event(event, "the event names an order that does not exist")
    if (
        event.session_id
        and order.gateway_session_id
        and event.session_id != order.gateway_session_id
    ):
        return _hold_event(event, "the event's checkout session belongs to another order")
    handler = _HANDLERS[EventKind(kind)]
    return await handler(ctx, conn, event, order, now)


def _hold_event(event: Any, reason: str) -> Applied:
    alert = ReviewAlert(
        member_id=0, order_id=event.order_id, reason=f"Payment event {event.event_id}: {reason}."
    )
    return Applied(Outcome.HELD, event.order_id, [alert], reason)


async def _on_paid(ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime) -> Applied:
    state = OrderState(order.state)
    if state in SETTLED_STATES or state in {S.REFUNDED, S.CHARGED_BACK, S.HELD}:
        return Applied(Outcome.DUPLICATE, order.id, [], f"order already {state}")
    mismatch = _money_mismatch(event, order)
    if mismatch:
        await set_state(conn, order.id, state, S.HELD, now, review_reason=mismatch)
        alert = ReviewAlert(member_id=order.buyer_id, order_id=order.id, reason=mismatch)
        return Applied(Outcome.HELD, order.id, [alert], mismatch)
    book = AccountBook(conn, order.shop_id, now, ctx.tiers)
    if state in LAPSED_STATES:
        # Paid after it lapsed: the lines went back to the cart; take them out again
        # and hold the points once more before capturing them.
        await conn.execute(cart_lines.delete().where(cart_lines.c.from_order_id == order.id))
        if order.points_applied:
            try:
                await book.reserve_points(order.buyer_id, int(order.points_applied))
            except InsufficientPoints:
                reason = "Paid after expiry, but the points it used have since been spent."
                await set_state(conn, order.id, state, S.HELD, now, review_reason=reason)
                alert = ReviewAlert(member_id=order.buyer_id, order_id=order.id, reason=reason)
                return Applied(Outcome.HELD, order.id, [alert], reason)
    if event.session_id and not order.gateway_session_id:
        await conn.execute(
            update(orders)
            .where(orders.c.id == order.id)
            .values(gateway=event.gateway, gateway_session_id=event.session_id)
        )
    effects = await fulfil_order(ctx, conn, order.id, now, from_state=state)
    effects += await _replay_deferred(ctx, conn, order.id)
    return Applied(Outcome.APPLIED, order.id, effects, "paid and fulfilled")


def _money_mismatch(event: Any, order: Any) -> str | None:
    if event.amount is None or event.currency is None:
        return "The payment did not say how much was paid."
    if event.currency.upper() != order.currency:
        return f"Paid in {event.currency.upper()}, but the order is in {order.currency}."
    if int(event.amount) != int(order.cash_due):
        paid = Money(int(event.amount), order.currency)
        due = Money(int(order.cash_due), order.currency)
        return f"Paid {paid}, but the order was for {due}."
    return None


async def fulfil_order(
    ctx: StoreContext,
    conn: Conn,
    order_id: int,
    now: datetime,
    *,
    from_state: OrderState = S.PENDING,
) -> list[Effect]:
    """pending → paid → fulfilled in the caller's transaction; returns the effects."""
    order = await lock_order(conn, order_id)
    assert order is not None
    await set_state(conn, order_id, from_state, S.PAID, now, paid_at=now)
    book = AccountBook(conn, order.shop_id, now, ctx.tiers)
    if order.points_applied:
        await book.capture_points(
            order.buyer_id,
            int(order.points_applied),
            Source(Reason.SPEND, order_id=order_id, memo=f"paid order #{order_id}"),
        )
    lines = await _lines(conn, order_id)
    effects: list[Effect] = []
    descriptions = []
    for line in lines:
        kind = ctx.catalog.kinds[line.kind]
        paid = PaidLine(
            order_id, line.id, order.buyer_id, line.recipient_id, line.quantity, line.spec
        )
        effects += await kind.apply(paid, book)
        description = kind.describe(line.spec, line.quantity)
        descriptions.append(
            description if line.recipient_id == order.buyer_id else f"{description} (gift)"
        )
        if line.recipient_id != order.buyer_id:
            effects.append(
                GiftNotice(
                    member_id=line.recipient_id,
                    giver_id=None if line.anonymous else order.buyer_id,
                    description=description,
                    note=line.note,
                    order_id=order_id,
                )
            )
    await conn.execute(
        update(order_lines).where(order_lines.c.order_id == order_id).values(applied_at=now)
    )
    await set_state(conn, order_id, S.PAID, S.FULFILLED, now, fulfilled_at=now)
    effects.append(
        Receipt(
            member_id=order.buyer_id,
            order_id=order_id,
            lines=descriptions,
            total=str(Money(int(order.cash_due), order.currency)),
            points_used=int(order.points_applied),
        )
    )
    return effects


async def claw_back_order(
    ctx: StoreContext, conn: Conn, order: Any, now: datetime, why: str
) -> list[Effect]:
    """Take back what a fulfilled order gave and return the points it spent."""
    book = AccountBook(conn, order.shop_id, now, ctx.tiers)
    effects: list[Effect] = []
    for line in await _lines(conn, order.id):
        if line.applied_at is None or line.clawed_back_at is not None:
            continue
        kind = ctx.catalog.kinds[line.kind]
        paid = PaidLine(
            order.id, line.id, order.buyer_id, line.recipient_id, line.quantity, line.spec
        )
        effects += await kind.claw_back(paid, book)
        await conn.execute(
            update(order_lines).where(order_lines.c.id == line.id).values(clawed_back_at=now)
        )
    if order.points_applied:
        await book.credit_points(
            order.buyer_id,
            int(order.points_applied),
            Source(Reason.REFUND, order_id=order.id, memo=f"points returned: {why}"),
        )
    effects.append(RefundNotice(member_id=order.buyer_id, order_id=order.id, description=why))
    return effects


async def _on_refund(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    state = OrderState(order.state)
    if state in {S.PENDING, *LAPSED_STATES}:
        return Applied(Outcome.DEFERRED, order.id, [], "refund before payment")
    if state in {S.REFUNDED, S.CHARGED_BACK}:
        return Applied(Outcome.DUPLICATE, order.id, [], f"order already {state}")
    if state is S.HELD:
        await set_state(conn, order.id, state, S.REFUNDED, now)
        return Applied(Outcome.APPLIED, order.id, [], "held order refunded; nothing was granted")
    amount = int(event.amount) if event.amount is not None else int(order.cash_due)
    refunded = int(order.refunded) + amount
    if state is S.DISPUTED:
        await conn.execute(update(orders).where(orders.c.id == order.id).values(refunded=refunded))
        return Applied(Outcome.APPLIED, order.id, [], "refund noted during a dispute")
    if refunded >= int(order.cash_due):
        await set_state(conn, order.id, state, S.REFUNDED, now, refunded=refunded)
        effects = await claw_back_order(ctx, conn, order, now, "refunded")
        return Applied(Outcome.APPLIED, order.id, effects, "fully refunded")
    await set_state(conn, order.id, state, S.PARTIALLY_REFUNDED, now, refunded=refunded)
    money = Money(amount, order.currency)
    alert = ReviewAlert(
        member_id=order.buyer_id,
        order_id=order.id,
        reason=f"Partial refund of {money}: decide whether to take anything back.",
    )
    notice = RefundNotice(
        member_id=order.buyer_id, order_id=order.id, description=f"{money} refunded"
    )
    return Applied(Outcome.APPLIED, order.id, [notice, alert], "partially refunded")


async def _on_dispute_opened(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    state = OrderState(order.state)
    if state in {S.PENDING, *LAPSED_STATES}:
        return Applied(Outcome.DEFERRED, order.id, [], "dispute before payment")
    if state in {S.DISPUTED, S.CHARGED_BACK, S.HELD}:
        return Applied(Outcome.DUPLICATE, order.id, [], f"order already {state}")
    await set_state(conn, order.id, state, S.DISPUTED, now, state_before_dispute=state.value)
    alert = ReviewAlert(
        member_id=order.buyer_id, order_id=order.id, reason="A payment dispute was opened."
    )
    return Applied(Outcome.APPLIED, order.id, [alert], "disputed")


async def _on_dispute_won(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    state = OrderState(order.state)
    if state is not S.DISPUTED:
        # Closed before we saw it open: nothing changed hands.
        return Applied(Outcome.IGNORED, order.id, [], f"dispute won while order {state}")
    back = OrderState(order.state_before_dispute or S.FULFILLED.value)
    await set_state(conn, order.id, state, back, now, state_before_dispute=None)
    return Applied(Outcome.APPLIED, order.id, [], f"dispute won; back to {back}")


async def _on_dispute_lost(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    state = OrderState(order.state)
    if state in {S.PENDING, *LAPSED_STATES}:
        return Applied(Outcome.DEFERRED, order.id, [], "dispute lost before payment")
    if state in {S.CHARGED_BACK, S.HELD}:
        return Applied(Outcome.DUPLICATE, order.id, [], f"order already {state}")
    if state is not S.DISPUTED:
        await set_state(conn, order.id, state, S.DISPUTED, now, state_before_dispute=state.value)
        state = S.DISPUTED
    await set_state(conn, order.id, state, S.CHARGED_BACK, now)
    effects: list[Effect] = []
    if OrderState(order.state) is not S.REFUNDED and order.state_before_dispute != S.REFUNDED.value:
        effects = await claw_back_order(ctx, conn, order, now, "charged back")
    return Applied(Outcome.APPLIED, order.id, effects, "charged back")


async def _on_failed(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    return await _lapse(ctx, conn, order, S.FAILED, now)


async def _on_expired(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    return await _lapse(ctx, conn, order, S.EXPIRED, now)


async def _lapse(
    ctx: StoreContext, conn: Conn, order: Any, state: OrderState, now: datetime
) -> Applied:
    if OrderState(order.state) is not S.PENDING:
        return Applied(Outcome.IGNORED, order.id, [], f"order already {order.state}; stays so")
    await lapse_order(ctx, conn, order.id, state, now)
    return Applied(Outcome.APPLIED, order.id, [], f"order {state}; lines back in the cart")


async def _on_pending(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    return Applied(Outcome.IGNORED, order.id, [], "payment pending; waiting for the outcome")


async def _on_refund_failed(
    ctx: StoreContext, conn: Conn, event: Any, order: Any, now: datetime
) -> Applied:
    alert = ReviewAlert(
        member_id=order.buyer_id, order_id=order.id, reason="A refund failed at the gateway."
    )
    return Applied(Outcome.APPLIED, order.id, [alert], "refund failed")


_HANDLERS = {
    EventKind.PAYMENT_SUCCEEDED: _on_paid,
    EventKind.PAYMENT_PENDING: _on_pending,
    EventKind.PAYMENT_FAILED: _on_failed,
    EventKind.CHECKOUT_EXPIRED: _on_expired,
    EventKind.REFUND_SUCCEEDED: _on_refund,
    EventKind.REFUND_FAILED: _on_refund_failed,
    EventKind.DISPUTE_OPENED: _on_dispute_opened,
    EventKind.DISPUTE_WON: _on_dispute_won,
    EventKind.DISPUTE_LOST: _on_dispute_lost,
}


async def _replay_deferred(ctx: StoreContext, conn: Conn, order_id: int) -> list[Effect]:
    """Apply refunds and disputes that arrived before the payment, in arrival order."""
    rows = await conn.execute(
        select(payment_events.c.gateway, payment_events.c.event_id)
        .where(payment_events.c.order_id == order_id)
        .where(payment_events.c.outcome == Outcome.DEFERRED.value)
        .where(payment_events.c.applied_at.is_(None))
        .order_by(payment_events.c.id)
    )
    effects: list[Effect] = []
    for gateway, event_id in rows.all():
        await conn.execute(
            update(payment_events)
            .where(payment_events.c.gateway == gateway, payment_events.c.event_id == event_id)
            .values(outcome=None)
        )
        applied = await _process(ctx, conn, gateway, event_id)
        effects += applied.effects
    return effects


async def _lines(conn: Conn, order_id: int) -> Sequence[Any]:
    return (
        await conn.execute(
            select(order_lines)
            .where(order_lines.c.order_id == order_id)
            .order_by(order_lines.c.position)
        )
    ).all()
