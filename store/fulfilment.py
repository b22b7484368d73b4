"""Turning verified payment events into what was bought — exactly once, in any order.

An event is first recorded uniquely by (gateway, event id). Applying it locks the
event and its order in one transaction and checks that the event belongs to the
order: it must name the order's own checkout session or payment reference, else it
is refused and kept for review, never applied. The money fact it reports (captured,
a refund, a dispute step) is recorded once per order, so a redelivery, or a replay
under another event id, is one fact. Then the order is settled: what the member
should hold is decided from all of the order's facts (`store.settlement.decide`)
and they are moved there — granted, taken back, points captured, returned or
released. Facts that arrive before the payment wait; the decision made when it
arrives counts them, so the outcome never depends on the order of arrival.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from store import coupons, stock
from store.accounts import AccountBook, Reason, Source
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import (
    cart_lines,
    carts,
    order_lines,
    order_money_facts,
    orders,
    payment_events,
)
from store.db.sql import insert_ignore
from store.effects import Effect, GiftNotice, Receipt, RefundNotice, ReviewAlert
from store.errors import InsufficientPoints, InvalidInput, NotFound
from store.grants import SelfGrant
from store.kinds.base import PaidLine
from store.money import Money
from store.orders import (
    LAPSED_STATES,
    SETTLED_STATES,
    Order,
    OrderRecord,
    OrderState,
    check_held,
    lapse_order,
    load_order,
    lock_record,
)
from store.outbox import store_effects
from store.settlement import Decision, FactKind, MoneyFact, decide, fact_ref

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
    DISPUTE_FUNDS_WITHDRAWN = "dispute_funds_withdrawn"
    DISPUTE_FUNDS_REINSTATED = "dispute_funds_reinstated"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


#: Events that report a money fact, and the fact.
_FACTS = {
    EventKind.PAYMENT_SUCCEEDED: FactKind.CAPTURED,
    EventKind.REFUND_SUCCEEDED: FactKind.REFUND_SUCCEEDED,
    EventKind.REFUND_FAILED: FactKind.REFUND_FAILED,
    EventKind.DISPUTE_OPENED: FactKind.DISPUTE_OPENED,
    EventKind.DISPUTE_FUNDS_WITHDRAWN: FactKind.DISPUTE_FUNDS_WITHDRAWN,
    EventKind.DISPUTE_FUNDS_REINSTATED: FactKind.DISPUTE_FUNDS_REINSTATED,
    EventKind.DISPUTE_WON: FactKind.DISPUTE_WON,
    EventKind.DISPUTE_LOST: FactKind.DISPUTE_LOST,
}


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    HELD = "held"
    DEFERRED = "deferred"
    IGNORED = "ignored"
    #: The event does not belong to the order it names; kept for review, never applied.
    REFUSED = "refused"


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
    #: The refund or dispute the event is about (None for checkout events).
    subject_id: str | None = None
    #: The gateway's own reference of the payment (Stripe's payment intent).
    payment_ref: str | None = None


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    order_id: int | None
    effects: list[Effect]
    detail: str = ""


@dataclass(frozen=True)
class EventRecord:
    """A stored payment event, typed."""

    id: int
    gateway: str
    event_id: str
    kind: str
    order_id: int | None
    session_id: str | None
    amount: int | None
    currency: str | None
    subject_id: str | None
    payment_ref: str | None
    applied_at: datetime | None
    outcome: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> EventRecord:
        return cls(
            id=int(row.id),
            gateway=str(row.gateway),
            event_id=str(row.event_id),
            kind=str(row.kind),
            order_id=None if row.order_id is None else int(row.order_id),
            session_id=row.session_id,
            amount=None if row.amount is None else int(row.amount),
            currency=row.currency,
            subject_id=row.subject_id,
            payment_ref=row.payment_ref,
            applied_at=row.applied_at,
            outcome=row.outcome,
        )


@dataclass(frozen=True)
class Settled:
    """Where settling left the order, and what Discord must do about it."""

    state: OrderState
    effects: list[Effect]
    review: str | None


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
        """Recorded events not yet applied (after a crash), oldest first; refused excluded."""

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

    async def resolve_paid(
        self, shop_id: int, order_id: int, actor_id: int, *, allow_self: bool = False
    ) -> Order:
        """A moderator accepts a held order's payment: it is fulfilled as if it matched.

        Refused (nothing changes) when the order is not held, when it still cannot be
        fulfilled (the points it used have been spent since), or when the moderator
        bought it or receives any of it and the shop does not allow self-grants:
        accepting money that does not match is granting goods, and the self-grant rule
        (`store.grants`) is there so no one both asks and approves.
        """

        async def resolve(conn: Conn) -> Order:
            now = self.ctx.now()
            order = await lock_record(conn, order_id)
            if order is None or order.shop_id != shop_id:
                raise NotFound("No such order.")
            check_held(order.id, order.state)
            if not allow_self:
                recipients = {line.recipient_id for line in await _lines(conn, order.id)}
                if actor_id == order.buyer_id or actor_id in recipients:
                    raise SelfGrant(
                        f"Order #{order_id} is yours (you bought it or receive part of it), "
                        "and moderators can't accept payment for their own orders in this "
                        "shop: ask another moderator, so every grant has a second pair of eyes."
                    )
            accepted = MoneyFact(FactKind.ACCEPTED)
            await _record_fact(conn, order.id, accepted, now, actor_id=actor_id)
            settled = await settle(self.ctx, conn, order, now)
            if settled.state is S.HELD:
                raise InvalidInput(f"Order #{order_id} can't be fulfilled: {settled.review}")
            await store_effects(conn, settled.effects, order_id=order.id, now=now)
            return await load_order(conn, self.ctx, order_id)

        return await self.ctx.db.write(resolve)


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
            "subject_id": event.subject_id,
            "payment_ref": event.payment_ref,
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
    event = EventRecord.from_row(
        (
            await conn.execute(
                select(payment_events)
                .where(payment_events.c.gateway == gateway, payment_events.c.event_id == event_id)
                .with_for_update()
            )
        ).one()
    )
    if event.applied_at is not None:
        return Applied(Outcome.DUPLICATE, event.order_id, [], "event already applied")
    if event.outcome == Outcome.REFUSED.value:
        return Applied(Outcome.REFUSED, event.order_id, [], "event already refused")
    applied = await _dispatch(ctx, conn, event, now)
    await conn.execute(
        update(payment_events)
        .where(payment_events.c.id == event.id)
        .values(
            # A refused event is never applied: it stays for a moderator to read.
            applied_at=None if applied.outcome is Outcome.REFUSED else now,
            outcome=applied.outcome.value,
            detail=applied.detail[:500],
        )
    )
    return applied


async def _dispatch(ctx: StoreContext, conn: Conn, event: EventRecord, now: datetime) -> Applied:
    if event.kind not in EventKind.__members__.values():
        return Applied(Outcome.IGNORED, event.order_id, [], f"unknown event kind {event.kind}")
    if event.order_id is None:
        return _refuse(event, "the event names no order of this shop")
    order = await lock_record(conn, event.order_id)
    if order is None:
        return _refuse(event, "the event names an order that does not exist")
    problem = binding_problem(event, order)
    if problem is not None:
        return _refuse(event, problem)
    kind = EventKind(event.kind)
    fact_kind = _FACTS.get(kind)
    if fact_kind is None:
        return await _LIFECYCLE[kind](ctx, conn, order, now)
    return await _apply_fact(ctx, conn, event, order, fact_kind, now)


def binding_problem(event: EventRecord, order: OrderRecord) -> str | None:
    """Why the event may not move this order, or None when it names the order's own
    checkout session or payment. Orders with no gateway session are never moved."""
    if order.gateway_session_id is None:
        return "the order has no gateway checkout (paid with points, or never opened)"
    if event.gateway != order.gateway:
        return f"the event comes from {event.gateway}, the order was opened with {order.gateway}"
    if event.session_id and event.session_id == order.gateway_session_id:
        return None
    if event.payment_ref and order.payment_ref and event.payment_ref == order.payment_ref:
        return None
    if not event.session_id:
        return "the event names no checkout session (nor the order's payment)"
    return "the event's checkout session belongs to another order"


def _refuse(event: EventRecord, reason: str) -> Applied:
    alert = ReviewAlert(
        member_id=0,
        order_id=event.order_id,
        reason=f"Payment event {event.event_id} refused: {reason}.",
    )
    return Applied(Outcome.REFUSED, event.order_id, [alert], reason)


async def _apply_fact(
    ctx: StoreContext,
    conn: Conn,
    event: EventRecord,
    order: OrderRecord,
    kind: FactKind,
    now: datetime,
) -> Applied:
    if kind is FactKind.CAPTURED:
        subject = ""
    elif kind in (FactKind.REFUND_SUCCEEDED, FactKind.REFUND_FAILED):
        subject = event.subject_id or event.event_id
    else:
        subject = event.subject_id or "payment"  # one dispute per payment when unnamed
    if kind is FactKind.CAPTURED and event.payment_ref and order.payment_ref is None:
        # Even from a duplicate capture: the return page or the reconciler often records
        # the capture first and knows no payment reference; the webhook after it does.
        # The event is bound to this order's own session (checked above).
        await conn.execute(
            update(orders).where(orders.c.id == order.id).values(payment_ref=event.payment_ref)
        )
    fact = MoneyFact(kind, subject, event.amount, event.currency)
    if not await _record_fact(conn, order.id, fact, now, event=event):
        return Applied(Outcome.DUPLICATE, order.id, [], f"{kind} already recorded")
    settled = await settle(ctx, conn, order, now)
    effects = settled.effects
    if kind is FactKind.REFUND_FAILED:
        reason = f"Refund {subject} failed at the gateway; the order is now {settled.state}."
        effects.append(ReviewAlert(member_id=order.buyer_id, order_id=order.id, reason=reason))
    if settled.state is S.HELD:
        return Applied(Outcome.HELD, order.id, effects, settled.review or "held")
    if settled.state in {S.PENDING, *LAPSED_STATES}:
        return Applied(Outcome.DEFERRED, order.id, effects, f"{kind} waits for the payment")
    return Applied(Outcome.APPLIED, order.id, effects, f"{kind}; order {settled.state}")


async def _record_fact(
    conn: Conn,
    order_id: int,
    fact: MoneyFact,
    now: datetime,
    *,
    event: EventRecord | None = None,
    actor_id: int | None = None,
) -> bool:
    """Store a fact once per order; False when the order already has it."""
    return await insert_ignore(
        conn,
        order_money_facts,
        {
            "order_id": order_id,
            "kind": fact.kind.value,
            "ref": fact_ref(fact.kind, fact.subject)[:255],
            "subject": fact.subject[:255],
            "amount": fact.amount,
            "currency": fact.currency,
            "gateway": None if event is None else event.gateway,
            "event_id": None if event is None else event.event_id,
            "actor_id": actor_id,
            "recorded_at": now,
        },
        conflict=["order_id", "ref"],
    )


async def load_money_facts(conn: Conn, order_id: int) -> list[MoneyFact]:
    rows = await conn.execute(
        select(
            order_money_facts.c.kind,
            order_money_facts.c.subject,
            order_money_facts.c.amount,
            order_money_facts.c.currency,
        ).where(order_money_facts.c.order_id == order_id)
    )
    return [
        MoneyFact(
            FactKind(row.kind),
            str(row.subject),
            None if row.amount is None else int(row.amount),
            row.currency,
        )
        for row in rows
    ]


async def settle_points_only(
    ctx: StoreContext, conn: Conn, order_id: int, now: datetime
) -> list[Effect]:
    """Checkout paid wholly with points: the points are the capture; settle at once."""
    order = await lock_record(conn, order_id)
    assert order is not None and order.cash_due == 0
    await _record_fact(conn, order.id, MoneyFact(FactKind.CAPTURED, "", 0, order.currency), now)
    return (await settle(ctx, conn, order, now)).effects


async def settle(ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime) -> Settled:
    """Decide from the order's facts what the member holds, and move them there.

    `order` is the locked row as it was before this change.
    """
    lifecycle = order.state if order.state in {S.PENDING, *LAPSED_STATES} else S.PENDING
    decision = decide(
        await load_money_facts(conn, order.id),
        cash_due=order.cash_due,
        currency=order.currency,
        lifecycle=lifecycle,
        locale=(await ctx.shops.get(order.shop_id, conn)).locale,
    )
    return await _move(ctx, conn, order, decision, now)


async def _move(
    ctx: StoreContext, conn: Conn, order: OrderRecord, decision: Decision, now: datetime
) -> Settled:
    """From what the member holds now (the order's state) to what the decision says."""
    shop = await ctx.shops.get(order.shop_id, conn)
    book = AccountBook(conn, order.shop_id, now, shop.tiers)
    holds = order.state in SETTLED_STATES
    target, review = decision.state, decision.review
    effects: list[Effect] = []
    values: dict[str, Any] = {}
    reserved = order.points_reserved
    if decision.keeps_goods and not holds:
        problem = await _take_points(conn, book, order)
        if problem is None:
            reserved = 0
            await _uncart(conn, order, now, stocked=shop.catalog.has_stock)
            effects += await fulfil_order(ctx, conn, order, now)
            values.update(fulfilled_at=now)
        else:
            target, review = S.HELD, problem
    elif holds and not decision.keeps_goods:
        why = "charged back" if target is S.CHARGED_BACK else "refunded"
        effects += await claw_back_order(ctx, conn, order, now, why)
    if reserved and target not in {S.PENDING, S.HELD}:
        await book.release_points(order.buyer_id, reserved)
        reserved = 0
    if order.coupon_code is not None and target in {S.REFUNDED, S.CHARGED_BACK}:
        # All its money went back (a held order's too): so does its use of the coupon,
        # once. A partial refund keeps it: the member keeps what the order bought.
        # After the account, as checkout locks them: account, then coupon.
        await coupons.release(conn, order.id, now)
    if decision.captured is not None and order.paid_at is None:
        values.update(paid_at=now)
    changed = target is not order.state or decision.refunded != order.refunded
    if changed and review is not None:
        effects.append(ReviewAlert(member_id=order.buyer_id, order_id=order.id, reason=review))
    if target is S.PARTIALLY_REFUNDED and decision.refunded > order.refunded:
        effects.append(
            RefundNotice(
                member_id=order.buyer_id,
                order_id=order.id,
                description="refunded",
                amount=decision.refunded - order.refunded,
                currency=order.currency,
            )
        )
    if changed or reserved != order.points_reserved or values:
        await conn.execute(
            update(orders)
            .where(orders.c.id == order.id)
            .values(
                state=target.value,
                refunded=decision.refunded,
                points_reserved=reserved,
                review_reason=review,
                updated_at=now,
                **values,
            )
        )
    return Settled(target, effects, review)


async def _take_points(conn: Conn, book: AccountBook, order: OrderRecord) -> str | None:
    """Spend the points the order used: its reservation, or from the free balance when
    the reservation is gone (paid after it lapsed, given back after a refund)."""
    need = order.points_applied
    if not need:
        return None
    source = Source(Reason.SPEND, order_id=order.id, memo=f"paid order #{order.id}")
    if order.points_reserved >= need:
        await book.capture_points(order.buyer_id, need, source)
        return None
    try:
        await book.debit_points(order.buyer_id, need, source)
    except InsufficientPoints:
        return f"Paid, but the {need:,} points it used have since been spent."
    return None


async def _uncart(conn: Conn, order: OrderRecord, now: datetime, *, stocked: bool) -> None:
    """A lapsed order's lines went back to the cart; once it is paid they leave again,
    and the stock and coupon use its lapse (or a refund) gave back are taken again
    (first, in the order checkout takes its locks: stock rows, the coupon, then cart
    lines — the other order could deadlock on PostgreSQL against a checkout of the
    same cart). Taking the use again is a no-op when the order still holds it."""
    lapsed = order.state in {*LAPSED_STATES, S.HELD}
    if lapsed and stocked:
        await stock.take_again(conn, order.shop_id, order.id)
    if order.coupon_code is not None:
        await coupons.take_again(conn, order.id, now)
    if not lapsed:
        return
    cart = select(carts.c.id).where(
        carts.c.shop_id == order.shop_id, carts.c.member_id == order.buyer_id
    )
    await conn.execute(
        cart_lines.delete().where(
            cart_lines.c.cart_id.in_(cart.scalar_subquery()),
            cart_lines.c.from_order_id == order.id,
        )
    )


def receipt_line(description: str, recipient_id: int, buyer_id: int) -> str:
    """A receipt's line: what it gave, marked "(gift)" when it went to someone else.

    Shared by the receipt fulfilment sends and the one a member asks for again, so the
    two always read alike.
    """
    return description if recipient_id == buyer_id else f"{description} (gift)"


def coupon_receipt_line(code: str, discount: Money, locale: str) -> str:
    """The receipt's line for the coupon, e.g. "Coupon SUMMER20: −$2.00"."""
    return f"Coupon {code}: −{discount.format(locale)}"


async def fulfil_order(
    ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime
) -> list[Effect]:
    """Apply every line not held now, in the caller's transaction; returns the effects.

    Lines applied for the first time tell gift recipients. A line given back after a
    take-back (a refund that failed, say) is restored, not applied again: the kind
    undoes exactly what its take-back removed, which may be less than the line gave
    (points spent since, time already used). Points are the caller's (`_move`).
    """
    order_id = order.id
    shop = await ctx.shops.get(order.shop_id, conn)
    book = AccountBook(conn, order.shop_id, now, shop.tiers)
    lines = await _lines(conn, order_id)
    effects: list[Effect] = []
    descriptions = []
    for line in lines:
        if line.applied_at is not None and line.clawed_back_at is None:
            continue
        kind = shop.catalog.kinds[line.kind]
        paid = PaidLine(
            order_id, line.id, order.buyer_id, line.recipient_id, line.quantity, line.spec
        )
        if line.applied_at is None:
            effects += await kind.apply(paid, book)
        else:
            effects += await kind.restore(paid, book)
        description = kind.describe(line.spec, line.quantity)
        descriptions.append(receipt_line(description, line.recipient_id, order.buyer_id))
        if line.recipient_id != order.buyer_id and line.applied_at is None:
            effects.append(
                GiftNotice(
                    member_id=line.recipient_id,
                    giver_id=None if line.anonymous else order.buyer_id,
                    description=description,
                    note=line.note,
                    gift_ref=line.gift_ref or "",
                )
            )
    if order.coupon_code is not None and order.discount:
        discount = Money(order.discount, order.currency)
        descriptions.append(coupon_receipt_line(order.coupon_code, discount, shop.locale))
    await conn.execute(
        update(order_lines)
        .where(order_lines.c.order_id == order_id)
        .values(applied_at=now, clawed_back_at=None)
    )
    effects.append(
        Receipt(
            member_id=order.buyer_id,
            order_id=order_id,
            lines=descriptions,
            total=None,
            points_used=order.points_applied,
            paid=order.cash_due,
            currency=order.currency,
        )
    )
    return effects


async def claw_back_order(
    ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime, why: str
) -> list[Effect]:
    """Take back what a fulfilled order gave and return the points it spent."""
    shop = await ctx.shops.get(order.shop_id, conn)
    book = AccountBook(conn, order.shop_id, now, shop.tiers)
    effects: list[Effect] = []
    for line in await _lines(conn, order.id):
        if line.applied_at is None or line.clawed_back_at is not None:
            continue
        kind = shop.catalog.kinds[line.kind]
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
            order.points_applied,
            Source(Reason.REFUND, order_id=order.id, memo=f"points returned: {why}"),
        )
    effects.append(RefundNotice(member_id=order.buyer_id, order_id=order.id, description=why))
    return effects


async def _on_failed(ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime) -> Applied:
    return await _lapse(ctx, conn, order, S.FAILED, now)


async def _on_expired(ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime) -> Applied:
    return await _lapse(ctx, conn, order, S.EXPIRED, now)


async def _lapse(
    ctx: StoreContext, conn: Conn, order: OrderRecord, state: OrderState, now: datetime
) -> Applied:
    if order.state is not S.PENDING:
        return Applied(Outcome.IGNORED, order.id, [], f"order already {order.state}; stays so")
    await lapse_order(ctx, conn, order.id, state, now)
    return Applied(Outcome.APPLIED, order.id, [], f"order {state}; lines back in the cart")


async def _on_pending(ctx: StoreContext, conn: Conn, order: OrderRecord, now: datetime) -> Applied:
    return Applied(Outcome.IGNORED, order.id, [], "payment pending; waiting for the outcome")


_LIFECYCLE = {
    EventKind.PAYMENT_PENDING: _on_pending,
    EventKind.PAYMENT_FAILED: _on_failed,
    EventKind.CHECKOUT_EXPIRED: _on_expired,
}


@dataclass(frozen=True)
class LineRecord:
    """An order line as applying and taking back need it."""

    id: int
    kind: str
    quantity: int
    recipient_id: int
    anonymous: bool
    note: str | None
    gift_ref: str | None
    spec: dict[str, Any]
    applied_at: datetime | None
    clawed_back_at: datetime | None


async def _lines(conn: Conn, order_id: int) -> Sequence[LineRecord]:
    rows = await conn.execute(
        select(order_lines)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.position)
    )
    return [
        LineRecord(
            id=int(row.id),
            kind=str(row.kind),
            quantity=int(row.quantity),
            recipient_id=int(row.recipient_id),
            anonymous=bool(row.anonymous),
            note=row.note,
            gift_ref=row.gift_ref,
            spec=dict(row.spec),
            applied_at=row.applied_at,
            clawed_back_at=row.clawed_back_at,
        )
        for row in rows
    ]
