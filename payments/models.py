"""Values that cross the boundary between the shop and a payment gateway.

Money is always an integer amount in minor units plus an upper-case ISO 4217 code, and
every time is timezone-aware UTC, so no gateway can smuggle floats or naive times in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

_CURRENCY = re.compile(r"^[A-Z]{3}$")

SessionStatus = Literal["open", "complete", "expired"]
Interval = Literal["month", "year"]
INTERVALS: tuple[Interval, ...] = ("month", "year")


def check_currency(currency: str) -> str:
    """Reject lower-case or malformed codes early: Stripe's lower case stays in its adapter."""
    if not _CURRENCY.match(currency):
        raise ValueError(f"currency must be an upper-case ISO 4217 code, got {currency!r}")
    return currency


def check_utc(value: datetime, field: str) -> datetime:
    """Naive or non-UTC times make expiry comparisons lie; refuse them at the boundary."""
    if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{field} must be a timezone-aware UTC datetime")
    return value


@dataclass(frozen=True, slots=True)
class CheckoutLine:
    """One line of a checkout.

    ``interval`` makes the line recurring: its amount is charged again every month or
    year until the subscription ends. None is a one-off charge, as every line was before
    subscriptions existed. ``sku`` names the catalog item the line sells, so a gateway can
    keep one price object per item and amount instead of a new one per checkout; None for
    a line that sells no single item (what points left to pay).
    """

    name: str
    quantity: int
    unit_amount: int
    interval: Interval | None = None
    sku: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a checkout line needs a name")
        if self.interval is not None and self.interval not in INTERVALS:
            raise ValueError(f"interval must be one of {INTERVALS} or None")
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")
        if self.unit_amount < 0:
            raise ValueError("unit_amount must not be negative")

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What the shop asks a gateway to collect.

    ``total`` must equal the sum of the lines: gateways charge from the lines, so a
    mismatch would make the member pay something other than the order's total.
    """

    order_id: str
    idempotency_key: str
    lines: tuple[CheckoutLine, ...]
    total: int
    currency: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    description: str = ""
    customer_ref: str | None = None
    #: The deployment that asks (see ``GatewayEvent.instance_id``); gateways carry it
    #: through to every event and state about this checkout.
    instance_id: str | None = None

    def __post_init__(self) -> None:
        if not self.order_id:
            raise ValueError("order_id is required")
        if not self.idempotency_key:
            raise ValueError("idempotency_key is required")
        if not self.lines:
            raise ValueError("a checkout needs at least one line")
        check_currency(self.currency)
        check_utc(self.expires_at, "expires_at")
        if sum(line.amount for line in self.lines) != self.total:
            raise ValueError("total must equal the sum of quantity * unit_amount over the lines")
        # One checkout opens at most one subscription, billed on one cycle (as at Stripe):
        # lines renewing on different cycles would need two.
        if len({line.interval for line in self.lines if line.interval is not None}) > 1:
            raise ValueError("recurring lines of one checkout must share one interval")

    @property
    def is_subscription(self) -> bool:
        """Whether paying this checkout starts a subscription (it has a recurring line)."""
        return self.interval is not None

    @property
    def interval(self) -> Interval | None:
        """The billing cycle of the recurring lines; None for a one-off checkout."""
        return next((line.interval for line in self.lines if line.interval is not None), None)

    @property
    def recurring_amount(self) -> int:
        """What each renewal charges: the recurring lines only; one-off lines are paid once."""
        return sum(line.amount for line in self.lines if line.interval is not None)


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    gateway: str
    session_id: str
    url: str
    expires_at: datetime


class EventKind(StrEnum):
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
    INVOICE_PAID = "invoice_paid"
    INVOICE_FAILED = "invoice_failed"
    SUBSCRIPTION_UPDATED = "subscription_updated"
    SUBSCRIPTION_ENDED = "subscription_ended"


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """A verified, normalized fact reported by a gateway.

    ``event_id`` is unique per gateway and per fact, so storing events uniquely by
    ``(gateway, event_id)`` de-duplicates redeliveries. ``subject_id`` names the refund
    or dispute an event is about; ``payment_ref`` is the gateway's own payment reference,
    which ``Gateway.resolve_event`` can use to find a missing order id.
    ``instance_id`` names the deployment that opened the checkout: deployments sharing
    one gateway account receive each other's events and must tell theirs apart, because
    their order numbers collide. None when the gateway could not say.

    Subscriptions: ``subscription_id`` is the gateway's id of the subscription an event
    is about (set on the PAYMENT_SUCCEEDED that started it, on INVOICE_*, SUBSCRIPTION_*,
    and on refunds and disputes of a subscription's invoices); ``invoice_id`` names the
    invoice an INVOICE_*, refund or dispute event is about. A renewal's events carry no
    session or order id: the renewal belongs to the subscription, not to the order that
    started it, so a receiver cannot mistake a renewal's refund for the order's.
    ``period_end`` is, for an invoice event (and a refund or dispute of one), the end of
    the period that invoice pays for; for SUBSCRIPTION_* events the end of the period paid
    so far. ``cancel_at_period_end`` is the subscription's flag as of ``occurred_at``,
    None when the event does not say. ``first_invoice`` marks the invoice the checkout
    itself paid: the shop fulfils that one as the order, never as a renewal.
    """

    gateway: str
    event_id: str
    kind: EventKind
    session_id: str | None
    order_id: str | None
    amount: int | None
    currency: str | None
    occurred_at: datetime
    raw_type: str
    subject_id: str | None = None
    payment_ref: str | None = None
    instance_id: str | None = None
    subscription_id: str | None = None
    invoice_id: str | None = None
    period_end: datetime | None = None
    cancel_at_period_end: bool | None = None
    first_invoice: bool = False

    def __post_init__(self) -> None:
        check_utc(self.occurred_at, "occurred_at")
        if self.currency is not None:
            check_currency(self.currency)
        if self.period_end is not None:
            check_utc(self.period_end, "period_end")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form, so the receiver can store the event and replay it later."""
        return {
            "gateway": self.gateway,
            "event_id": self.event_id,
            "kind": self.kind.value,
            "session_id": self.session_id,
            "order_id": self.order_id,
            "amount": self.amount,
            "currency": self.currency,
            "occurred_at": self.occurred_at.isoformat(),
            "raw_type": self.raw_type,
            "subject_id": self.subject_id,
            "payment_ref": self.payment_ref,
            "instance_id": self.instance_id,
            "subscription_id": self.subscription_id,
            "invoice_id": self.invoice_id,
            "period_end": None if self.period_end is None else self.period_end.isoformat(),
            "cancel_at_period_end": self.cancel_at_period_end,
            "first_invoice": self.first_invoice,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEvent:
        """Also reads dicts stored before subscriptions existed (their fields absent)."""
        period_end = data.get("period_end")
        return cls(
            gateway=data["gateway"],
            event_id=data["event_id"],
            kind=EventKind(data["kind"]),
            session_id=data["session_id"],
            order_id=data["order_id"],
            amount=data["amount"],
            currency=data["currency"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            raw_type=data["raw_type"],
            subject_id=data.get("subject_id"),
            payment_ref=data.get("payment_ref"),
            instance_id=data.get("instance_id"),
            subscription_id=data.get("subscription_id"),
            invoice_id=data.get("invoice_id"),
            period_end=None if period_end is None else datetime.fromisoformat(period_end),
            cancel_at_period_end=data.get("cancel_at_period_end"),
            first_invoice=bool(data.get("first_invoice", False)),
        )


@dataclass(frozen=True, slots=True)
class SessionState:
    """The gateway's authoritative view of a checkout session, for reconciliation.

    ``payment_failed`` marks a completed session whose delayed payment was rejected.
    """

    session_id: str
    order_id: str | None
    status: SessionStatus
    paid: bool
    amount: int | None
    currency: str | None
    payment_failed: bool = False
    instance_id: str | None = None
    #: The subscription a paid subscription checkout started, so a payment found by
    #: reconciliation (its webhook lost) still tells the shop which subscription it is.
    subscription_id: str | None = None

    def as_event(self, gateway: str, observed_at: datetime) -> GatewayEvent | None:
        """The event a reconciler should apply for this state, or None while still open.

        The event id is derived from the session and the outcome, so reconciling the
        same session repeatedly yields the same id and is de-duplicated like a webhook.
        """
        if self.status == "expired":
            kind = EventKind.CHECKOUT_EXPIRED
        elif self.status == "complete" and self.paid:
            kind = EventKind.PAYMENT_SUCCEEDED
        elif self.status == "complete" and self.payment_failed:
            kind = EventKind.PAYMENT_FAILED
        elif self.status == "complete":
            kind = EventKind.PAYMENT_PENDING
        else:
            return None
        return GatewayEvent(
            gateway=gateway,
            event_id=f"reconcile:{self.session_id}:{kind.value}",
            kind=kind,
            session_id=self.session_id,
            order_id=self.order_id,
            amount=self.amount,
            currency=self.currency,
            occurred_at=check_utc(observed_at, "observed_at"),
            raw_type=f"reconcile.{kind.value}",
            instance_id=self.instance_id,
            subscription_id=self.subscription_id,
        )


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    amount: int
    currency: str
    status: Literal["succeeded", "pending", "failed"]
