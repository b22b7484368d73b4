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
- Subscriptions (Checkout in ``mode=subscription``; API 2025+ shapes, older ones read too):
  ``checkout.session.completed`` also names the ``subscription`` and the ``invoice`` the
  checkout paid (``first_invoice``); ``StripeGateway.resolve_event`` adds that invoice's
  period end. ``invoice.paid`` → invoice_paid (amount paid), ``invoice.payment_failed`` →
  invoice_failed (amount due); ``billing_reason`` subscription_create marks the checkout's
  own invoice, the only one naming our order. Invoices of no subscription: no events.
  ``customer.subscription.updated`` → subscription_updated, ``.deleted`` →
  subscription_ended, each with the flag ``cancel_at_period_end`` and the end of the
  period paid so far (``current_period_end``: on the subscription before API 2025-03-31,
  on its items since; a ``cancel_at`` equal to that end counts as cancelling at it).
- Anything else: no events.

The order id comes from ``metadata.order_id`` (we set it on sessions, payment intents and
refunds), else ``client_reference_id``. Disputes and dashboard refunds lack it; their
``payment_ref`` (payment intent, or charge) lets ``StripeGateway.resolve_event`` find it.
The deployment's ``metadata.instance_id`` travels the same way; for subscriptions it is
set on the subscription (``subscription_data.metadata``), which each invoice copies into
``parent.subscription_details.metadata``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from payments.errors import WebhookVerificationError
from payments.models import EventKind, GatewayEvent, SessionState

GATEWAY = "stripe"


class _Malformed(ValueError):
    """A payload not shaped as Stripe documents it."""


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


def _timestamp(value: Any) -> datetime | None:
    seconds = _int(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed
    return value


def _list_data(value: Any) -> list[dict[str, Any]]:
    data = _dict(value).get("data") or []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _Malformed
    return data


def _subscription_details(invoice: dict[str, Any]) -> dict[str, Any]:
    """Where an invoice names its subscription: ``parent`` since API 2025-03-31."""
    parent = _dict(invoice.get("parent"))
    if parent.get("type") == "subscription_details":
        return _dict(parent.get("subscription_details"))
    return _dict(invoice.get("subscription_details"))


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    details = _subscription_details(invoice)
    return _str(details.get("subscription")) or _str(invoice.get("subscription"))


def invoice_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    """The subscription's metadata as the invoice copied it (our order and instance)."""
    return _metadata(_subscription_details(invoice))


def is_first_invoice(invoice: dict[str, Any]) -> bool:
    return invoice.get("billing_reason") == "subscription_create"


def invoice_period_end(invoice: dict[str, Any]) -> datetime | None:
    """The end of the period the invoice pays for, from its subscription lines.

    Not the invoice's own ``period_end``: for a subscription that is the end of the
    period *before* the one billed (usage is billed in arrears, the plan in advance).
    """
    ends = []
    for line in _list_data(invoice.get("lines")):
        parent = _dict(line.get("parent"))
        recurring = parent.get("type") == "subscription_item_details" or (
            not parent and line.get("type") == "subscription"
        )
        if recurring:
            end = _int(_dict(line.get("period")).get("end"))
            if end is not None:
                ends.append(end)
    return _timestamp(max(ends)) if ends else None


def subscription_period_end(subscription: dict[str, Any]) -> datetime | None:
    """``current_period_end``: the subscription's own before API 2025-03-31, the latest
    of its items' since."""
    own = _int(subscription.get("current_period_end"))
    if own is not None:
        return _timestamp(own)
    ends = [
        end
        for item in _list_data(subscription.get("items"))
        if (end := _int(item.get("current_period_end"))) is not None
    ]
    return _timestamp(max(ends)) if ends else None


def _cancels_at_period_end(subscription: dict[str, Any], period_end: datetime | None) -> bool:
    if subscription.get("cancel_at_period_end") is True:
        return True
    cancel_at = _timestamp(subscription.get("cancel_at"))
    return cancel_at is not None and cancel_at == period_end


def _recurring_amount(subscription: dict[str, Any]) -> int | None:
    total = 0
    for item in _list_data(subscription.get("items")):
        unit = _int(_dict(item.get("price")).get("unit_amount"))
        if unit is None:
            return None
        total += unit * (_int(item.get("quantity")) or 1)
    return total


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
        subscription_id=_str(obj.get("subscription")),
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


_INVOICE_EVENTS = {
    "invoice.paid": EventKind.INVOICE_PAID,
    "invoice.payment_failed": EventKind.INVOICE_FAILED,
}
_SUBSCRIPTION_EVENTS = {
    "customer.subscription.updated": EventKind.SUBSCRIPTION_UPDATED,
    "customer.subscription.deleted": EventKind.SUBSCRIPTION_ENDED,
}


def _invoice_event(
    event_id: str, event_type: str, obj: dict[str, Any], occurred_at: datetime
) -> list[GatewayEvent]:
    """A renewal names no order: it is the subscription's, not the order that started it."""
    subscription_id = invoice_subscription_id(obj)
    if subscription_id is None:
        return []  # an invoice of ours it is not: the shop sends none outside subscriptions
    kind = _INVOICE_EVENTS[event_type]
    first = is_first_invoice(obj)
    metadata = invoice_metadata(obj)
    return [
        GatewayEvent(
            gateway=GATEWAY,
            event_id=event_id,
            kind=kind,
            session_id=None,
            order_id=_str(metadata.get("order_id")) if first else None,
            amount=_int(obj.get("amount_paid" if kind is EventKind.INVOICE_PAID else "amount_due")),
            currency=_currency(obj.get("currency")),
            occurred_at=occurred_at,
            raw_type=event_type,
            instance_id=_str(metadata.get("instance_id")) or None,
            subscription_id=subscription_id,
            invoice_id=_str(obj["id"]),
            period_end=invoice_period_end(obj),
            first_invoice=first,
        )
    ]


def _subscription_event(
    event_id: str, event_type: str, obj: dict[str, Any], occurred_at: datetime
) -> GatewayEvent:
    period_end = subscription_period_end(obj)
    return GatewayEvent(
        gateway=GATEWAY,
        event_id=event_id,
        kind=_SUBSCRIPTION_EVENTS[event_type],
        session_id=None,
        order_id=None,
        amount=_recurring_amount(obj),
        currency=_currency(obj.get("currency")),
        occurred_at=occurred_at,
        raw_type=event_type,
        instance_id=instance_id_of(obj),
        subscription_id=_str(obj["id"]),
        period_end=period_end,
        cancel_at_period_end=_cancels_at_period_end(obj, period_end),
    )


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
            invoice_id = _str(obj.get("invoice")) if obj.get("mode") == "subscription" else None
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
                    subscription_id=_str(obj.get("subscription")),
                    invoice_id=invoice_id,
                    first_invoice=invoice_id is not None,
                )
            ]
        if event_type in _INVOICE_EVENTS:
            return _invoice_event(event_id, event_type, obj, occurred_at)
        if event_type in _SUBSCRIPTION_EVENTS:
            return [_subscription_event(event_id, event_type, obj, occurred_at)]
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
                subscription_id=_str(metadata.get("subscription_id")),
                invoice_id=_str(metadata.get("invoice_id")),
            )
        ]
    except (_Malformed, KeyError, TypeError, ValueError, OverflowError, AttributeError):
        raise WebhookVerificationError("malformed stripe event") from None
