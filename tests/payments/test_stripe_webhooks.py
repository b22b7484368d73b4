"""Stripe webhooks: the signature check and the event translation table."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from payments_harness import STRIPE_WEBHOOK_SECRET, Clock, checkout_request
from stripe_api_stub import StripeStub, signed

from payments import signing
from payments.errors import WebhookVerificationError
from payments.models import EventKind
from payments.stripe_gateway import StripeGateway

SECRET = STRIPE_WEBHOOK_SECRET


def _session(stub: StripeStub, **fields: Any) -> dict[str, Any]:
    session = copy.deepcopy(stub.fixtures["checkout.session"])
    session.update(
        id="cs_test_1",
        amount_total=1099,
        currency="eur",
        client_reference_id="order-17",
        metadata={"order_id": "order-17"},
        status="complete",
        payment_status="paid",
        payment_intent="pi_1",
    )
    session.update(fields)
    return session


def _paid_body(stub: StripeStub, clock: Clock) -> bytes:
    return stub.event("checkout.session.completed", _session(stub), int(clock().timestamp()))


def _ts(clock: Clock, offset: int = 0) -> int:
    return int(clock().timestamp()) + offset


def test_sdk_signed_event_verifies(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A body signed by the SDK's own helper is accepted."""
    body = _paid_body(stripe_stub, clock)
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert event.kind == EventKind.PAYMENT_SUCCEEDED


def test_missing_stripe_signature_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """No Stripe-Signature header, no event."""
    with pytest.raises(WebhookVerificationError, match="missing"):
        stripe_gateway.verify_webhook(_paid_body(stripe_stub, clock), {})


@pytest.mark.parametrize("header", ["nonsense", "t=abc,v1=00", "v1=abcdef", "t=1"])
def test_malformed_stripe_signature_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock, header: str
) -> None:
    """A header without a timestamp and a v1 value is refused."""
    body = _paid_body(stripe_stub, clock)
    with pytest.raises(WebhookVerificationError, match="malformed"):
        stripe_gateway.verify_webhook(body, {"Stripe-Signature": header})


def test_wrong_endpoint_secret_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A body signed for another endpoint does not verify."""
    body = _paid_body(stripe_stub, clock)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        stripe_gateway.verify_webhook(body, signed(body, "whsec_other", _ts(clock)))


def test_one_changed_byte_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Lowering the amount by editing the body breaks the signature."""
    body = _paid_body(stripe_stub, clock)
    headers = signed(body, SECRET, _ts(clock))
    tampered = body.replace(b'"amount_total": 1099', b'"amount_total": 1098')
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="does not match"):
        stripe_gateway.verify_webhook(tampered, headers)


def test_stale_stripe_event_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """An event signed more than 300 s ago is refused."""
    body = _paid_body(stripe_stub, clock)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock, -301)))


def test_future_stripe_event_is_rejected(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """An event signed more than 300 s ahead is refused, which the SDK alone would accept."""
    body = _paid_body(stripe_stub, clock)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock, 301)))


def test_two_v1_values_of_which_one_is_valid_pass(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Stripe signs with old and new secrets during a rotation; one match suffices."""
    body = _paid_body(stripe_stub, clock)
    header = signing.sign(body, ["whsec_retired", SECRET], _ts(clock))
    assert len(stripe_gateway.verify_webhook(body, {"Stripe-Signature": header})) == 1


@pytest.mark.asyncio
async def test_previous_endpoint_secret_still_verifies(
    make_stripe: Any, stripe_stub: StripeStub, clock: Clock
) -> None:
    """While rolling the endpoint secret, events signed with the old one are accepted."""
    gateway: StripeGateway = await make_stripe(
        webhook_secret="whsec_new", previous_webhook_secrets=[SECRET]
    )
    body = _paid_body(stripe_stub, clock)
    assert len(gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))) == 1


def test_signed_garbage_is_rejected(stripe_gateway: StripeGateway, clock: Clock) -> None:
    """A correctly signed body that is not a Stripe event is refused."""
    body = b'{"hello": "world"}'
    with pytest.raises(WebhookVerificationError, match="malformed"):
        stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))


CHECKOUT_CASES = [
    ("checkout.session.completed", {}, EventKind.PAYMENT_SUCCEEDED, 1099),
    ("checkout.session.completed", {"payment_status": "unpaid"}, EventKind.PAYMENT_PENDING, 1099),
    (
        "checkout.session.completed",
        {"payment_status": "no_payment_required", "amount_total": None},
        EventKind.PAYMENT_SUCCEEDED,
        0,
    ),
    ("checkout.session.async_payment_succeeded", {}, EventKind.PAYMENT_SUCCEEDED, 1099),
    (
        "checkout.session.async_payment_failed",
        {"payment_status": "unpaid"},
        EventKind.PAYMENT_FAILED,
        1099,
    ),
    (
        "checkout.session.expired",
        {"status": "expired", "payment_status": "unpaid", "payment_intent": None},
        EventKind.CHECKOUT_EXPIRED,
        1099,
    ),
]


@pytest.mark.parametrize(("event_type", "fields", "kind", "amount"), CHECKOUT_CASES)
def test_checkout_events_map_to_payment_events(
    stripe_gateway: StripeGateway,
    stripe_stub: StripeStub,
    clock: Clock,
    event_type: str,
    fields: dict[str, Any],
    kind: EventKind,
    amount: int,
) -> None:
    """Checkout session events become payment events carrying our order, amount, currency."""
    body = stripe_stub.event(event_type, _session(stripe_stub, **fields), _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert (event.kind, event.session_id, event.order_id, event.amount, event.currency) == (
        kind,
        "cs_test_1",
        "order-17",
        amount,
        "EUR",
    )
    assert event.raw_type == event_type
    assert event.event_id == json.loads(body)["id"]


def test_order_id_falls_back_to_client_reference_id(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A session without our metadata still names the order via client_reference_id."""
    body = stripe_stub.event(
        "checkout.session.completed", _session(stripe_stub, metadata={}), _ts(clock)
    )
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert event.order_id == "order-17"


def test_session_without_any_order_id_reports_none(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """With no order id anywhere the event says so, for the shop to hold for review."""
    session = _session(stripe_stub, metadata={}, client_reference_id=None)
    body = stripe_stub.event("checkout.session.completed", session, _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert event.order_id is None


def _refund(stub: StripeStub, **fields: Any) -> dict[str, Any]:
    refund = copy.deepcopy(stub.fixtures["refund"])
    refund.update(
        amount=300,
        currency="eur",
        payment_intent="pi_1",
        metadata={"order_id": "order-17", "session_id": "cs_test_1"},
    )
    refund.update(fields)
    return refund


def _dispute(stub: StripeStub, **fields: Any) -> dict[str, Any]:
    dispute = copy.deepcopy(stub.fixtures["dispute"])
    dispute.update(fields)
    return dispute


OTHER_CASES = [
    ("refund.created", "refund", {"status": "succeeded"}, EventKind.REFUND_SUCCEEDED),
    ("refund.updated", "refund", {"status": "succeeded"}, EventKind.REFUND_SUCCEEDED),
    ("refund.updated", "refund", {"status": "failed"}, EventKind.REFUND_FAILED),
    ("refund.updated", "refund", {"status": "canceled"}, EventKind.REFUND_FAILED),
    ("refund.failed", "refund", {"status": "failed"}, EventKind.REFUND_FAILED),
    ("charge.dispute.created", "dispute", {}, EventKind.DISPUTE_OPENED),
    ("charge.dispute.funds_withdrawn", "dispute", {}, EventKind.DISPUTE_FUNDS_WITHDRAWN),
    ("charge.dispute.funds_reinstated", "dispute", {}, EventKind.DISPUTE_FUNDS_REINSTATED),
    ("charge.dispute.closed", "dispute", {"status": "won"}, EventKind.DISPUTE_WON),
    ("charge.dispute.closed", "dispute", {"status": "warning_closed"}, EventKind.DISPUTE_WON),
    ("charge.dispute.closed", "dispute", {"status": "lost"}, EventKind.DISPUTE_LOST),
]


@pytest.mark.parametrize(("event_type", "resource", "fields", "kind"), OTHER_CASES)
def test_refund_and_dispute_events_map_by_status(
    stripe_gateway: StripeGateway,
    stripe_stub: StripeStub,
    clock: Clock,
    event_type: str,
    resource: str,
    fields: dict[str, Any],
    kind: EventKind,
) -> None:
    """Refund and dispute events become normalized events named after their subject."""
    obj = (_refund if resource == "refund" else _dispute)(stripe_stub, **fields)
    body = stripe_stub.event(event_type, obj, _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert (event.kind, event.subject_id, event.event_id) == (
        kind,
        obj["id"],
        f"{obj['id']}:{kind.value}",
    )
    assert (event.amount, event.currency) == (obj["amount"], obj["currency"].upper())


def test_one_refund_reported_twice_gets_one_event_id(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """refund.created and refund.updated for one succeeded refund de-duplicate."""
    ids = set()
    for event_type in ("refund.created", "refund.updated"):
        body = stripe_stub.event(event_type, _refund(stripe_stub, status="succeeded"), _ts(clock))
        [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
        ids.add(event.event_id)
    assert len(ids) == 1


def test_refund_we_created_names_our_order(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Our refunds carry order and session ids in metadata, so events name them."""
    body = stripe_stub.event("refund.created", _refund(stripe_stub, status="succeeded"), _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert (event.order_id, event.session_id) == ("order-17", "cs_test_1")


@pytest.mark.parametrize(
    ("event_type", "resource", "fields"),
    [
        ("refund.created", "refund", {"status": "pending"}),
        ("charge.refunded", "charge", {}),
        ("charge.dispute.updated", "dispute", {}),
        ("payment_intent.succeeded", "payment_intent", {}),
        ("plan.created", "event", {}),
    ],
)
def test_events_we_do_not_act_on_yield_nothing(
    stripe_gateway: StripeGateway,
    stripe_stub: StripeStub,
    clock: Clock,
    event_type: str,
    resource: str,
    fields: dict[str, Any],
) -> None:
    """Unknown or redundant event types verify but produce no events."""
    obj = copy.deepcopy(stripe_stub.fixtures[resource])
    if resource == "event":
        obj = obj["data"]["object"]
    obj.update(fields)
    body = stripe_stub.event(event_type, obj, _ts(clock))
    assert stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock))) == []


@pytest.mark.asyncio
async def test_dispute_without_our_ids_is_resolved_through_its_charge(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """resolve_event follows dispute → charge → payment intent → checkout session."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    paid = stripe_stub.pay(session.session_id)
    dispute = _dispute(stripe_stub)
    stripe_stub.charge_intents[dispute["charge"]] = paid["payment_intent"]
    body = stripe_stub.event("charge.dispute.created", dispute, _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, SECRET, _ts(clock)))
    assert event.order_id is None
    resolved = await stripe_gateway.resolve_event(event)
    assert (resolved.order_id, resolved.session_id) == ("order-17", session.session_id)


@pytest.mark.asyncio
async def test_reconciling_an_expired_stripe_session(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A session that expired at Stripe reconciles into checkout_expired."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    stripe_stub.expire(session.session_id)
    state = await stripe_gateway.fetch_session(session.session_id)
    event = state.as_event("stripe", clock() + timedelta(seconds=1))
    assert event is not None and event.kind == EventKind.CHECKOUT_EXPIRED
