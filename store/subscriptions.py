"""Memberships a gateway renews, decided from what the gateway reported.

The first period is an ordinary order line: the order pays for it and its refunds
go through the order. Every later period comes from the gateway's events, which
arrive late, twice, out of order, or before the store has even heard of the
subscription. So, like orders (`store.settlement`), each event is stored once as a
fact, one pure function (`decide`) says from all the facts which renewals the
member holds and whether a grace period runs, and settling moves the membership
from what `subscription_periods` says was given to what the decision says, adding
or taking back exactly the difference.

Time is added "from the current end", as any purchase, and the time each renewal
or grace actually added is recorded, so taking one back removes exactly that and
never another period's time.

Grace: when the latest failed renewal is unpaid, the tier runs on `grace` longer,
and then lapses like any membership (the expiry worker removes the role). A grace
cut short by the payment is taken back (the renewal adds its own interval); a
grace that ran its course was used and stays; one that is still running but no
longer applies (a later renewal failed, or the subscription ended) is taken back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Row, exists, select, true, update

from store.accounts import AccountBook, Reason, Source
from store.clock import ensure_utc
from store.config import TierConfig
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import (
    order_lines,
    orders,
    subscription_facts,
    subscription_keys,
    subscription_periods,
    subscriptions,
)
from store.db.sql import insert_ignore
from store.effects import Effect, RenewalFailed, ReviewAlert
from store.errors import InvalidInput
from store.kinds.base import INTERVAL_MONTHS
from store.orders import OrderState
from store.outbox import store_effects

#: How long after its payment a subscription's missed start is still looked for:
#: gateways retry webhooks for about that long (Stripe: three days).
START_WITHIN = timedelta(days=3)


class SubscriptionFactKind(StrEnum):
    INVOICE_PAID = "invoice_paid"
    INVOICE_FAILED = "invoice_failed"
    INVOICE_REFUNDED = "invoice_refunded"
    INVOICE_DISPUTE_LOST = "invoice_dispute_lost"
    #: A snapshot: cancel_at_period_end and period_end as reported at occurred_at.
    STATUS = "status"
    ENDED = "ended"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELING = "canceling"
    ENDED = "ended"


_INVOICE_KINDS = frozenset(
    {
        SubscriptionFactKind.INVOICE_PAID,
        SubscriptionFactKind.INVOICE_FAILED,
        SubscriptionFactKind.INVOICE_REFUNDED,
        SubscriptionFactKind.INVOICE_DISPUTE_LOST,
    }
)
_TAKE_BACKS = frozenset(
    {SubscriptionFactKind.INVOICE_REFUNDED, SubscriptionFactKind.INVOICE_DISPUTE_LOST}
)

PERIOD = "period"
GRACE = "grace"


@dataclass(frozen=True)
class SubscriptionFact:
    """One thing the gateway said about a subscription, at `occurred_at` (its time)."""

    kind: SubscriptionFactKind
    occurred_at: datetime
    invoice_id: str | None = None
    amount: int | None = None
    period_end: datetime | None = None
    cancel_at_period_end: bool | None = None
    #: Which one, where an invoice can have several of a kind: each refund's own id.
    subject: str = ""


@dataclass(frozen=True)
class SubscriptionDecision:
    """What the facts say the member holds and how the subscription stands."""

    status: SubscriptionStatus
    #: Renewal invoices whose period the member holds (paid, not refunded nor lost),
    #: in the order they were paid.
    held: tuple[str, ...]
    #: The failed invoice whose grace period runs now, and until when.
    grace_invoice: str | None
    grace_until: datetime | None
    #: Failed invoices whose grace, if it was given, must be taken back: paid within
    #: it, or still running but no longer the one that applies.
    void_graces: frozenset[str]
    cancel_at_period_end: bool
    current_period_end: datetime | None


def decide(
    facts: Iterable[SubscriptionFact],
    *,
    now: datetime,
    grace: timedelta,
    first_invoice: str | None = None,
) -> SubscriptionDecision:
    """Decide from the facts alone: their order does not matter, duplicates don't count.

    `first_invoice` is the invoice the order paid: its period is the order line's, so
    it is never a renewal here (its period end still counts).
    """
    facts = set(facts)
    invoice_facts = [
        f
        for f in facts
        if f.kind in _INVOICE_KINDS and f.invoice_id and f.invoice_id != first_invoice
    ]
    paid = _earliest(invoice_facts, SubscriptionFactKind.INVOICE_PAID)
    failed = _earliest(invoice_facts, SubscriptionFactKind.INVOICE_FAILED)
    taken = {f.invoice_id for f in invoice_facts if takes_back(f, invoice_facts)}
    held = tuple(
        invoice
        for invoice, _ in sorted(paid.items(), key=lambda kv: (kv[1], kv[0]))
        if invoice not in taken
    )
    ended = any(f.kind is SubscriptionFactKind.ENDED for f in facts)
    latest_failed = max(failed.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    unpaid = latest_failed is not None and latest_failed[0] not in paid
    grace_invoice: str | None = None
    grace_until: datetime | None = None
    if latest_failed is not None and unpaid and not ended and now < latest_failed[1] + grace:
        grace_invoice, grace_until = latest_failed[0], latest_failed[1] + grace
    void = set()
    for invoice, failed_at in failed.items():
        until = failed_at + grace
        if invoice in paid:
            if paid[invoice] < until:
                void.add(invoice)
        elif invoice != grace_invoice and now < until:
            void.add(invoice)
    statuses = [f for f in facts if f.kind is SubscriptionFactKind.STATUS]
    latest_status = max(statuses, key=_status_order, default=None)
    cancel = bool(latest_status and latest_status.cancel_at_period_end)
    if cancel and latest_status is not None and latest_status.period_end is not None:
        # A renewal billed past the end it was to stop at proves it was resumed (a
        # cancel and a resume stamped in the same second read as a cancel).
        renewed_past = any(
            f.kind is SubscriptionFactKind.INVOICE_PAID
            and f.period_end is not None
            and f.period_end > latest_status.period_end
            for f in facts
        )
        cancel = not renewed_past
    if ended:
        status = SubscriptionStatus.ENDED
    elif unpaid:
        status = SubscriptionStatus.PAST_DUE
    elif cancel:
        status = SubscriptionStatus.CANCELING
    else:
        status = SubscriptionStatus.ACTIVE
    reports = [
        (f.occurred_at, f.period_end)
        for f in facts
        if f.period_end is not None
        and f.kind in (SubscriptionFactKind.STATUS, SubscriptionFactKind.INVOICE_PAID)
    ]
    period_end = max(reports)[1] if reports else None
    return SubscriptionDecision(
        status=status,
        held=held,
        grace_invoice=grace_invoice,
        grace_until=grace_until,
        void_graces=frozenset(void),
        cancel_at_period_end=cancel,
        current_period_end=period_end,
    )


def takes_back(fact: SubscriptionFact, facts: Iterable[SubscriptionFact]) -> bool:
    """Whether a fact takes its invoice's period back: a lost dispute, or refunds that
    together reach the whole invoice (each refund is its own fact). A partial refund
    (goodwill, a price difference) keeps the period and asks a moderator to look, as a
    partly refunded order does."""
    if fact.kind is SubscriptionFactKind.INVOICE_DISPUTE_LOST:
        return True
    if fact.kind is not SubscriptionFactKind.INVOICE_REFUNDED:
        return False
    same = [f for f in facts if f.invoice_id == fact.invoice_id]
    charged = [f.amount for f in same if f.kind is SubscriptionFactKind.INVOICE_PAID and f.amount]
    refunds = [f for f in same if f.kind is SubscriptionFactKind.INVOICE_REFUNDED]
    if not charged or any(f.amount is None for f in refunds):
        return True  # nothing to compare with: a refund reported without its amount
    return sum(f.amount or 0 for f in refunds) >= charged[0]


def _earliest(facts: Iterable[SubscriptionFact], kind: SubscriptionFactKind) -> dict[str, datetime]:
    """Each invoice's first report of `kind` (a failure retried is one failure)."""
    first: dict[str, datetime] = {}
    for fact in facts:
        if fact.kind is kind and fact.invoice_id:
            known = first.get(fact.invoice_id)
            first[fact.invoice_id] = (
                fact.occurred_at if known is None else min(known, fact.occurred_at)
            )
    return first


def _status_order(fact: SubscriptionFact) -> tuple[Any, ...]:
    """Latest report wins; a tie is broken by the values so the answer is stable."""
    return (
        fact.occurred_at,
        bool(fact.cancel_at_period_end),
        fact.period_end is not None,
        fact.period_end or fact.occurred_at,
    )


@dataclass(frozen=True)
class SubscriptionRecord:
    id: int
    shop_id: int
    member_id: int
    tier: str
    sku: str
    interval: str
    gateway: str
    gateway_ref: str
    order_id: int | None
    order_line_id: int | None
    first_invoice_id: str | None
    amount: int
    currency: str
    status: SubscriptionStatus
    cancel_at_period_end: bool
    current_period_end: datetime | None
    created_at: datetime
    updated_at: datetime
    #: The secret part of the member's "update payment" link (see `by_manage_token`).
    manage_token: str | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> SubscriptionRecord:
        return cls(
            id=int(row.id),
            shop_id=int(row.shop_id),
            member_id=int(row.member_id),
            tier=str(row.tier),
            sku=str(row.sku),
            interval=str(row.interval),
            gateway=str(row.gateway),
            gateway_ref=str(row.gateway_ref),
            order_id=None if row.order_id is None else int(row.order_id),
            order_line_id=None if row.order_line_id is None else int(row.order_line_id),
            first_invoice_id=row.first_invoice_id,
            amount=int(row.amount),
            currency=str(row.currency),
            status=SubscriptionStatus(row.status),
            cancel_at_period_end=bool(row.cancel_at_period_end),
            current_period_end=row.current_period_end,
            manage_token=row.manage_token,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class Subscriptions:
    """Start subscriptions, record the gateway's facts about them, settle the time."""

    def __init__(self, ctx: StoreContext, grace: timedelta) -> None:
        self.ctx = ctx
        self.grace = grace

    async def start(
        self,
        *,
        shop_id: int,
        member_id: int,
        tier: str,
        sku: str,
        interval: str,
        gateway: str,
        gateway_ref: str,
        order_id: int | None,
        order_line_id: int | None,
        amount: int,
        currency: str,
        first_invoice_id: str | None = None,
    ) -> SubscriptionRecord:
        """Record a subscription the gateway opened; again for the same one changes nothing.

        Facts that arrived before it are settled now. The first period is the order's;
        name its invoice (`first_invoice_id`) when the gateway reports that invoice as
        paid too, so it is not counted as a renewal.
        """
        if interval not in INTERVAL_MONTHS:
            raise InvalidInput(f"A subscription renews every month or year, not {interval!r}.")
        if tier not in (await self.ctx.shops.get(shop_id)).tiers:
            raise InvalidInput(f"There is no {tier!r} tier.")
        if amount < 0:
            raise InvalidInput("A subscription's amount can't be negative.")
        if not gateway_ref:
            raise InvalidInput("The gateway's subscription id is missing.")

        async def start(conn: Conn) -> SubscriptionRecord:
            now = self.ctx.now()
            await _lock_key(conn, gateway, gateway_ref)
            await insert_ignore(
                conn,
                subscriptions,
                {
                    "shop_id": shop_id,
                    "member_id": member_id,
                    "tier": tier,
                    "sku": sku,
                    "interval": interval,
                    "gateway": gateway,
                    "gateway_ref": gateway_ref,
                    "order_id": order_id,
                    "order_line_id": order_line_id,
                    "first_invoice_id": first_invoice_id,
                    "amount": amount,
                    "currency": currency.upper(),
                    "status": SubscriptionStatus.ACTIVE.value,
                    "cancel_at_period_end": False,
                    "current_period_end": None,
                    "created_at": now,
                    "updated_at": now,
                    "manage_token": secrets.token_urlsafe(24),
                },
                conflict=["gateway", "gateway_ref"],
            )
            record = await _load(conn, gateway, gateway_ref)
            assert record is not None
            if (record.shop_id, record.member_id) != (shop_id, member_id):
                raise InvalidInput(
                    f"Subscription {gateway_ref} already belongs to another member or shop."
                )
            return (await self._settle(conn, record, now)).record

        return await self.ctx.db.write(start)

    async def record(self, gateway: str, gateway_ref: str, fact: SubscriptionFact) -> list[Effect]:
        """Store the fact once and, when the subscription is known, settle it.

        Returns the effects for Discord (also written to the outbox, beside the change).
        """
        fact = _checked(fact)

        async def record(conn: Conn) -> list[Effect]:
            now = self.ctx.now()
            await _lock_key(conn, gateway, gateway_ref)
            changed = await _store_fact(conn, gateway, gateway_ref, fact, now)
            current = await _load(conn, gateway, gateway_ref)
            if current is None:
                return []  # settled when the subscription starts
            settled = await self._settle(conn, current, now)
            effects = settled.effects
            refunded = fact.kind is SubscriptionFactKind.INVOICE_REFUNDED
            if changed and refunded and not takes_back(fact, settled.facts):
                alert = ReviewAlert(
                    member_id=current.member_id,
                    order_id=current.order_id,
                    reason=(
                        f"Part of the {current.tier} subscription's renewal "
                        f"(invoice {fact.invoice_id}) was refunded; the period stays. "
                        "Check whether time should be taken back."
                    ),
                )
                await store_effects(
                    conn, [alert], order_id=current.order_id, now=now, shop_id=current.shop_id
                )
                effects.append(alert)
            return effects

        return await self.ctx.db.write(record)

    async def unstarted(self, limit: int = 50) -> list[tuple[int, int]]:
        """Orders fulfilled lately that bought a subscription which has not started
        here: (shop id, order id), newest first. Its start was missed (the webhook that
        names the subscription was lost, the payment came by the return page, or the
        order was held and resolved later); the caller asks the gateway and starts it.
        Orders last changed longer ago than `START_WITHIN` are left alone."""
        since = self.ctx.now() - START_WITHIN

        async def find(conn: Conn) -> list[tuple[int, int]]:
            renewing = (
                select(order_lines.c.order_id)
                .where(order_lines.c.order_id == orders.c.id)
                .where(order_lines.c.spec["billing"].as_string() == "subscription")
            )
            started = select(subscriptions.c.id).where(subscriptions.c.order_id == orders.c.id)
            rows = await conn.execute(
                select(orders.c.shop_id, orders.c.id)
                .where(orders.c.state == OrderState.FULFILLED.value)
                # Since it was last changed (fulfilled, perhaps by a moderator days after
                # the payment): the orders' (state, updated_at) index finds them.
                .where(orders.c.updated_at >= since)
                .where(orders.c.gateway_session_id.is_not(None))
                .where(exists(renewing))
                .where(~exists(started))
                .order_by(orders.c.id.desc())
                .limit(limit)
            )
            return [(int(row.shop_id), int(row.id)) for row in rows]

        return await self.ctx.db.read(find)

    async def by_manage_token(self, token: str) -> SubscriptionRecord | None:
        """The subscription a member's "update payment" link names; None for any other
        text (the link is its only key, so a guess must miss: 192 random bits)."""
        if not token or len(token) > 64:
            return None

        async def find(conn: Conn) -> SubscriptionRecord | None:
            row = (
                await conn.execute(
                    select(subscriptions).where(subscriptions.c.manage_token == token)
                )
            ).one_or_none()
            return None if row is None else SubscriptionRecord.from_row(row)

        return await self.ctx.db.read(find)

    async def get(self, gateway: str, gateway_ref: str) -> SubscriptionRecord | None:
        async def get(conn: Conn) -> SubscriptionRecord | None:
            return await _load(conn, gateway, gateway_ref)

        return await self.ctx.db.read(get)

    async def for_member(self, shop_id: int, member_id: int) -> list[SubscriptionRecord]:
        """The member's subscriptions in this shop, oldest first, ended ones included."""

        async def load(conn: Conn) -> list[SubscriptionRecord]:
            rows = await conn.execute(
                select(subscriptions)
                .where(subscriptions.c.shop_id == shop_id, subscriptions.c.member_id == member_id)
                .order_by(subscriptions.c.id)
            )
            return [SubscriptionRecord.from_row(row) for row in rows]

        return await self.ctx.db.read(load)

    async def _settle(self, conn: Conn, current: SubscriptionRecord, now: datetime) -> _Settled:
        """Move the membership from what was given to what the facts decide."""
        facts = await _load_facts(conn, current.gateway, current.gateway_ref)
        decision = decide(facts, now=now, grace=self.grace, first_invoice=current.first_invoice_id)
        given = await _load_periods(conn, current.id)
        tiers = (await self.ctx.shops.get(current.shop_id, conn)).tiers
        mover = _Mover(conn, current, now, tiers)
        lost = {f.invoice_id for f in facts if f.kind is SubscriptionFactKind.INVOICE_DISPUTE_LOST}
        paid = {f.invoice_id for f in facts if f.kind is SubscriptionFactKind.INVOICE_PAID}
        months = INTERVAL_MONTHS[current.interval]
        paid_until = {
            f.invoice_id: f.period_end
            for f in facts
            if f.kind is SubscriptionFactKind.INVOICE_PAID and f.period_end is not None
        }
        added: list[str] = []
        for invoice in decision.held:
            if (invoice, PERIOD) not in given:
                await mover.add(invoice, PERIOD, f"renewal: invoice {invoice} paid", months=months)
                added.append(invoice)
        grace_invoice = decision.grace_invoice
        if grace_invoice is not None and (grace_invoice, GRACE) not in given:
            memo = f"grace period: invoice {grace_invoice} failed"
            keeps_until = await mover.add(grace_invoice, GRACE, memo, days=self.grace.days)
            assert decision.grace_until is not None  # decided with the grace invoice
            mover.effects.append(
                RenewalFailed(
                    member_id=current.member_id,
                    tier=current.tier,
                    gateway=current.gateway,
                    subscription_ref=current.gateway_ref,
                    grace_until=keeps_until or decision.grace_until,
                    manage_token=current.manage_token or "",
                )
            )
        # Then take back: a grace the renewal paid for or a period refunded comes off
        # the end the new time reached, so days used meanwhile are not given twice.
        for (invoice, kind), period in sorted(given.items()):
            if period.taken_at is not None:
                continue
            if kind == PERIOD and invoice not in decision.held:
                why = "dispute lost" if invoice in lost else "refunded"
                await mover.take(period, f"renewal taken back: invoice {invoice} {why}")
            elif kind == GRACE and invoice in decision.void_graces:
                why = "paid" if invoice in paid else "no longer applies"
                await mover.take(period, f"grace taken back: invoice {invoice} {why}")
        # Calendar months from the tier's end can fall short of the gateway's period
        # (anchored on the 31st, say), as can a month whose grace was taken back: a
        # member who paid must not lose the role before the period paid for ends.
        for invoice in added:
            until = paid_until.get(invoice)
            if until is not None:
                await mover.top_up(invoice, until, f"renewal: invoice {invoice} paid")
        state = (decision.status, decision.cancel_at_period_end, decision.current_period_end)
        record = current
        if state != (current.status, current.cancel_at_period_end, current.current_period_end):
            record = replace(
                current,
                status=decision.status,
                cancel_at_period_end=decision.cancel_at_period_end,
                current_period_end=decision.current_period_end,
                updated_at=now,
            )
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == current.id)
                .values(
                    status=decision.status.value,
                    cancel_at_period_end=decision.cancel_at_period_end,
                    current_period_end=decision.current_period_end,
                    updated_at=now,
                )
            )
        await store_effects(
            conn, mover.effects, order_id=current.order_id, now=now, shop_id=current.shop_id
        )
        return _Settled(mover.effects, facts, record)


@dataclass(frozen=True)
class _Settled:
    """What settling did, with what it read and wrote, so callers need not load it again."""

    effects: list[Effect]
    facts: list[SubscriptionFact]
    #: The subscription as settling left it.
    record: SubscriptionRecord


@dataclass(frozen=True)
class _Period:
    id: int
    gained: timedelta
    taken_at: datetime | None


class _Mover:
    """Adds and takes back a subscription's time through the account book, recording it."""

    def __init__(
        self,
        conn: Conn,
        current: SubscriptionRecord,
        now: datetime,
        tiers: Mapping[str, TierConfig],
    ) -> None:
        self.conn = conn
        self.current = current
        self.now = now
        self.book = AccountBook(conn, current.shop_id, now, tiers)
        self.effects: list[Effect] = []

    def _source(self, memo: str) -> Source:
        return Source(Reason.SUBSCRIPTION, order_id=self.current.order_id, memo=memo)

    async def add(
        self,
        invoice: str,
        kind: str,
        memo: str,
        *,
        months: int = 0,
        days: int = 0,
    ) -> datetime | None:
        """Add the time and record what it added; returns the tier's new end (None for
        a permanent membership, which gains nothing)."""
        member, tier = self.current.member_id, self.current.tier
        before = await self.book.membership(member, tier)
        gained = timedelta(0)
        end: datetime | None = None
        if before is None or not before.permanent:  # nothing to add to permanent time
            self.effects += await self.book.extend_membership(
                member, tier, self._source(memo), months=months, days=days
            )
            end = await self._end(member, tier)
            start = self.now if before is None or before.expires_at is None else before.expires_at
            gained = end - max(self.now, start)
        await self.conn.execute(
            subscription_periods.insert().values(
                subscription_id=self.current.id,
                invoice_id=invoice,
                kind=kind,
                gained_seconds=int(gained.total_seconds()),
                applied_at=self.now,
                taken_at=None,
            )
        )
        return end

    async def top_up(self, invoice: str, until: datetime, memo: str) -> None:
        """Reach the end of the period ``invoice`` paid, if the tier now ends before it;
        the days go onto that period, so taking it back takes them too."""
        member, tier = self.current.member_id, self.current.tier
        held = await self.book.membership(member, tier)
        if held is None or held.permanent or held.expires_at is None:
            return
        if held.expires_at >= until:
            return
        short = -((held.expires_at - until) // timedelta(days=1))  # whole days, rounded up
        start = max(self.now, held.expires_at)
        self.effects += await self.book.extend_membership(
            member, tier, self._source(f"{memo}; to the period's end"), days=short
        )
        gained = await self._end(member, tier) - start
        await self.conn.execute(
            update(subscription_periods)
            .where(
                subscription_periods.c.subscription_id == self.current.id,
                subscription_periods.c.invoice_id == invoice,
                subscription_periods.c.kind == PERIOD,
            )
            .values(
                gained_seconds=subscription_periods.c.gained_seconds + int(gained.total_seconds())
            )
        )

    async def _end(self, member: int, tier: str) -> datetime:
        held = await self.book.membership(member, tier)
        assert held is not None and held.expires_at is not None  # just extended
        return held.expires_at

    async def take(self, period: _Period, memo: str) -> None:
        member, tier = self.current.member_id, self.current.tier
        held = await self.book.membership(member, tier)
        if period.gained > timedelta(0) and held is not None and not held.permanent:
            self.effects += await self.book.shorten_membership(
                member, tier, self._source(memo), by=period.gained
            )
        await self.conn.execute(
            update(subscription_periods)
            .where(subscription_periods.c.id == period.id)
            .values(taken_at=self.now)
        )


def _checked(fact: SubscriptionFact) -> SubscriptionFact:
    if fact.kind in _INVOICE_KINDS and not fact.invoice_id:
        raise InvalidInput(f"A {fact.kind} fact must name its invoice.")
    try:
        return SubscriptionFact(
            kind=SubscriptionFactKind(fact.kind),
            occurred_at=ensure_utc(fact.occurred_at),
            invoice_id=fact.invoice_id or None,
            amount=fact.amount,
            period_end=None if fact.period_end is None else ensure_utc(fact.period_end),
            cancel_at_period_end=fact.cancel_at_period_end,
            subject=fact.subject[:255],
        )
    except ValueError as exc:
        raise InvalidInput(f"Unusable subscription fact: {exc}") from exc


async def _lock_key(conn: Conn, gateway: str, gateway_ref: str) -> None:
    """Take the subscription's turn: its start and its facts settle one after another."""
    await insert_ignore(
        conn,
        subscription_keys,
        {"gateway": gateway, "gateway_ref": gateway_ref},
        conflict=["gateway", "gateway_ref"],
    )
    await conn.execute(
        select(subscription_keys.c.gateway)
        .where(
            subscription_keys.c.gateway == gateway,
            subscription_keys.c.gateway_ref == gateway_ref,
        )
        .with_for_update()
    )


async def _store_fact(
    conn: Conn, gateway: str, gateway_ref: str, fact: SubscriptionFact, now: datetime
) -> bool:
    """Store the fact once; a repeat only moves its time (status: the latest report;
    other kinds: the earliest). True when anything changed."""
    key = {
        "gateway": gateway,
        "gateway_ref": gateway_ref,
        "kind": fact.kind.value,
        "invoice_id": fact.invoice_id or "",
        "subject": fact.subject,
    }
    values = {
        "occurred_at": fact.occurred_at,
        "amount": fact.amount,
        "period_end": fact.period_end,
        "cancel_at_period_end": fact.cancel_at_period_end,
    }
    if await insert_ignore(
        conn,
        subscription_facts,
        {**key, **values, "recorded_at": now},
        conflict=list(key),
    ):
        return True
    where = [subscription_facts.c[name] == value for name, value in key.items()]
    moved: ColumnElement[bool]
    if fact.kind is SubscriptionFactKind.STATUS:
        # The report `decide` would pick wins, ties included (two in one second).
        row = (await conn.execute(select(subscription_facts).where(*where))).one()
        kept = SubscriptionFact(
            SubscriptionFactKind.STATUS,
            row.occurred_at,
            period_end=row.period_end,
            cancel_at_period_end=row.cancel_at_period_end,
        )
        if _status_order(kept) >= _status_order(fact):
            return False
        moved = true()
    else:
        moved = subscription_facts.c.occurred_at > fact.occurred_at
    result = await conn.execute(
        update(subscription_facts).where(*where).where(moved).values(**values)
    )
    return bool(result.rowcount)


async def _load(conn: Conn, gateway: str, gateway_ref: str) -> SubscriptionRecord | None:
    row = (
        await conn.execute(
            select(subscriptions).where(
                subscriptions.c.gateway == gateway, subscriptions.c.gateway_ref == gateway_ref
            )
        )
    ).first()
    return None if row is None else SubscriptionRecord.from_row(row)


async def _load_facts(conn: Conn, gateway: str, gateway_ref: str) -> list[SubscriptionFact]:
    rows = (
        await conn.execute(
            select(subscription_facts).where(
                subscription_facts.c.gateway == gateway,
                subscription_facts.c.gateway_ref == gateway_ref,
            )
        )
    ).all()
    return [
        SubscriptionFact(
            kind=SubscriptionFactKind(row.kind),
            occurred_at=row.occurred_at,
            invoice_id=row.invoice_id or None,
            amount=None if row.amount is None else int(row.amount),
            period_end=row.period_end,
            cancel_at_period_end=None
            if row.cancel_at_period_end is None
            else bool(row.cancel_at_period_end),
            subject=row.subject,
        )
        for row in rows
    ]


async def _load_periods(conn: Conn, subscription_id: int) -> dict[tuple[str, str], _Period]:
    rows = await conn.execute(
        select(subscription_periods).where(
            subscription_periods.c.subscription_id == subscription_id
        )
    )
    return {
        (str(row.invoice_id), str(row.kind)): _Period(
            id=int(row.id),
            gained=timedelta(seconds=int(row.gained_seconds)),
            taken_at=row.taken_at,
        )
        for row in rows
    }
