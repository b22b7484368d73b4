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
    name: str
    quantity: int
    unit_amount: int

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a checkout line needs a name")
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

    def __post_init__(self) -> None:
        check_utc(self.occurred_at, "occurred_at")
        if self.currency is not None:
            check_currency(self.currency)

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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEvent:
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
        )


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    amount: int
    currency: str
    status: Literal["succeeded", "pending", "failed"]
