"""Translation of Stripe event payloads into normalized events: a table, no I/O.

Which Stripe events mean what:

- ``checkout.session.completed``: ``payment_status`` paid → payment_succeeded;
  no_payment_required → payment_succeeded with amount 0; unpaid → payment_pending
  (a delayed method such as a bank debit is still running).
- ``checkout.session.async_payment_succeeded`` / ``async_payment_failed`` →
  payment_succeeded / payment_failed. ``checkout.session.expired`` → checkout_expired.
- ``refund.created`` / ``refund.updated``: status succeeded → refund_succeeded; failed or
  canceled → refund_failed; pending and requires_action → nothing yet. ``refund.failed``
  → refund_failed. The event id is ``<refund id>:<kind>`` because Stripe may report one
  refund's success twice (created, then updated); this way it is stored once.
  ``charge.refunded`` is ignored: it repeats the refund events with cumulative amounts.
- ``charge.dispute.created`` → dispute_opened; ``charge.dispute.funds_withdrawn`` /
  ``funds_reinstated`` → dispute_funds_withdrawn / dispute_funds_reinstated (each a money
  fact of the order: the dispute is open while funds are withdrawn);
  ``charge.dispute.closed`` with status won or warning_closed (an inquiry that never
  became a chargeback) → dispute_won, lost → dispute_lost. Event ids are
  ``<dispute id>:<kind>``. ``updated`` is ignored: it changes no money.
- Anything else: no events.

The order id comes from ``metadata.order_id`` (we set it on sessions, payment intents and
refunds), else ``client_reference_id``. Disputes and dashboard refunds lack it; their
``payment_ref`` (payment intent, or charge) lets ``StripeGateway.resolve_event`` find it.
The deployment's ``metadata.instance_id`` travels the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from payments.errors import WebhookVerificationError
from payments.models import EventKind, GatewayEvent, SessionState

GATEWAY = "stripe"


class _Malformed(Exception):
    pass


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])  # an expanded object
    raise _Malformed


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed
    return value


def _currency(value: Any) -> str | None:
    code = _str(value)
    return None if code is None else code.upper()


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _Malformed
    return metadata


def order_id_of(obj: dict[str, Any]) -> str | None:
    return _str(_metadata(obj).get("order_id")) or _str(obj.get("client_reference_id"))


def instance_id_of(obj: dict[str, Any]) -> str | None:
    return _str(_metadata(obj).get("instance_id")) or None


def session_state(obj: dict[str, Any]) -> SessionState:
    """A Checkout Session object (payment_intent optionally expanded) as SessionState."""
    status = obj.get("status")
    if status not in ("open", "complete", "expired"):
        raise ValueError(f"unexpected checkout session status {status!r}")
    payment_status = obj.get("payment_status")
    intent = obj.get("payment_intent")
    failed = (
        status == "complete"
        and payment_status == "unpaid"
        and isinstance(intent, dict)
        and intent.get("status") in ("requires_payment_method", "canceled")
    )
    amount = _int(obj.get("amount_total"))
    return SessionState(
        session_id=str(obj["id"]),
        order_id=order_id_of(obj),
        status=status,
        paid=payment_status in ("paid", "no_payment_required"),
        amount=0 if payment_status == "no_payment_required" and amount is None else amount,
        currency=_currency(obj.get("currency")),
        payment_failed=failed,
        instance_id=instance_id_of(obj),
    )


def _checkout(event_type: str, obj: dict[str, Any]) -> EventKind | None:
    if event_type == "checkout.session.completed":
        status = obj.get("payment_status")
        if status in ("paid", "no_payment_required"):
            return EventKind.PAYMENT_SUCCEEDED
        if status == "unpaid":
            return EventKind.PAYMENT_PENDING
        raise _Malformed
    return {
        "checkout.session.async_payment_succeeded": EventKind.PAYMENT_SUCCEEDED,
        "checkout.session.async_payment_failed": EventKind.PAYMENT_FAILED,
        "checkout.session.expired": EventKind.CHECKOUT_EXPIRED,
    }.get(event_type)


def _refund(event_type: str, obj: dict[str, Any]) -> EventKind | None:
    if event_type == "refund.failed":
        return EventKind.REFUND_FAILED
    if event_type in ("refund.created", "refund.updated"):
        status = obj.get("status")
        if status == "succeeded":
            return EventKind.REFUND_SUCCEEDED
        if status in ("failed", "canceled"):
            return EventKind.REFUND_FAILED
    return None


def _dispute(event_type: str, obj: dict[str, Any]) -> EventKind | None:
    if event_type == "charge.dispute.created":
        return EventKind.DISPUTE_OPENED
    if event_type == "charge.dispute.funds_withdrawn":
        return EventKind.DISPUTE_FUNDS_WITHDRAWN
    if event_type == "charge.dispute.funds_reinstated":
        return EventKind.DISPUTE_FUNDS_REINSTATED
    if event_type == "charge.dispute.closed":
        status = obj.get("status")
        if status in ("won", "warning_closed"):
            return EventKind.DISPUTE_WON
        if status == "lost":
            return EventKind.DISPUTE_LOST
    return None


def parse_stripe_event(body: bytes) -> list[GatewayEvent]:
    """Translate a verified Stripe event body; raise WebhookVerificationError if malformed."""
    try:
        event = json.loads(body)
        if not isinstance(event, dict) or event.get("object") != "event":
            raise _Malformed
        event_type = event["type"]
        obj = event["data"]["object"]
        if not isinstance(event_type, str) or not isinstance(obj, dict):
            raise _Malformed
        occurred_at = datetime.fromtimestamp(int(event["created"]), tz=UTC)
        event_id = _str(event["id"])
        if event_id is None:
            raise _Malformed
        if event_type.startswith("checkout.session."):
            kind = _checkout(event_type, obj)
            if kind is None:
                return []
            amount = _int(obj.get("amount_total"))
            if event_type == "checkout.session.completed" and amount is None:
                amount = 0 if obj.get("payment_status") == "no_payment_required" else None
            return [
                GatewayEvent(
                    gateway=GATEWAY,
                    event_id=event_id,
                    kind=kind,
                    session_id=_str(obj["id"]),
                    order_id=order_id_of(obj),
                    amount=amount,
                    currency=_currency(obj.get("currency")),
                    occurred_at=occurred_at,
                    raw_type=event_type,
                    payment_ref=_str(obj.get("payment_intent")),
                    instance_id=instance_id_of(obj),
                )
            ]
        if event_type.startswith("refund."):
            kind = _refund(event_type, obj)
        elif event_type.startswith("charge.dispute."):
            kind = _dispute(event_type, obj)
        else:
            return []
        if kind is None:
            return []
        subject = _str(obj["id"])
        metadata = obj.get("metadata") or {}
        return [
            GatewayEvent(
                gateway=GATEWAY,
                event_id=f"{subject}:{kind.value}",
                kind=kind,
                session_id=_str(metadata.get("session_id")),
                order_id=order_id_of(obj),
                amount=_int(obj.get("amount")),
                currency=_currency(obj.get("currency")),
                occurred_at=occurred_at,
                raw_type=event_type,
                subject_id=subject,
                payment_ref=_str(obj.get("payment_intent")) or _str(obj.get("charge")),
                instance_id=instance_id_of(obj),
            )
        ]
    except (_Malformed, KeyError, TypeError, ValueError, OverflowError, AttributeError):
        raise WebhookVerificationError("malformed stripe event") from None
