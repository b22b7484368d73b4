"""The deployment's instance id, carried by the Stripe adapter and the fake gateway."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from payments_harness import STRIPE_WEBHOOK_SECRET, Clock, FakeShop, checkout_request
from stripe_api_stub import StripeStub, signed

from payments.errors import WebhookVerificationError
from payments.models import EventKind, GatewayEvent
from payments.stripe_gateway import StripeGateway

INSTANCE = "9f3c2a1b0d4e5f60"


def _ts(clock: Clock) -> int:
    return int(clock().timestamp())


@pytest.mark.asyncio
async def test_stripe_checkout_marks_session_and_payment_with_the_instance(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The instance id goes into the session's and the payment intent's metadata."""
    await stripe_gateway.create_checkout(checkout_request(clock, instance_id=INSTANCE))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    expected = {"order_id": "order-17", "instance_id": INSTANCE}
    assert call.params["metadata"] == expected
    assert call.params["payment_intent_data"]["metadata"] == expected


@pytest.mark.asyncio
async def test_stripe_refund_is_marked_with_the_sessions_instance(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Our refunds carry the instance id, so their events name the deployment."""
    session = await stripe_gateway.create_checkout(checkout_request(clock, instance_id=INSTANCE))
    stripe_stub.pay(session.session_id)
    await stripe_gateway.refund(session.session_id, None, "refund-1")
    [call] = stripe_stub.calls("POST", "/v1/refunds")
    assert call.params["metadata"]["instance_id"] == INSTANCE


@pytest.mark.asyncio
async def test_stripe_events_name_the_instance_from_metadata(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A session event and the session's state both report the instance id."""
    session = await stripe_gateway.create_checkout(checkout_request(clock, instance_id=INSTANCE))
    paid = stripe_stub.pay(session.session_id)
    body = stripe_stub.event("checkout.session.completed", paid, _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, STRIPE_WEBHOOK_SECRET, _ts(clock)))
    assert event.instance_id == INSTANCE
    assert (await stripe_gateway.fetch_session(session.session_id)).instance_id == INSTANCE


@pytest.mark.asyncio
async def test_a_dispute_is_resolved_to_its_payments_instance(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Disputes carry none of our metadata; resolve_event finds the instance through Stripe."""
    session = await stripe_gateway.create_checkout(checkout_request(clock, instance_id=INSTANCE))
    paid = stripe_stub.pay(session.session_id)
    dispute = copy.deepcopy(stripe_stub.fixtures["dispute"])
    stripe_stub.charge_intents[dispute["charge"]] = paid["payment_intent"]
    body = stripe_stub.event("charge.dispute.created", dispute, _ts(clock))
    [event] = stripe_gateway.verify_webhook(body, signed(body, STRIPE_WEBHOOK_SECRET, _ts(clock)))
    assert event.instance_id is None
    resolved = await stripe_gateway.resolve_event(event)
    assert (resolved.kind, resolved.instance_id) == (EventKind.DISPUTE_OPENED, INSTANCE)


@pytest.mark.asyncio
async def test_a_checkout_without_an_instance_sends_no_instance_key(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Events of sessions made before instance ids existed read back as None."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert "instance_id" not in call.params["metadata"]
    assert (await stripe_gateway.fetch_session(session.session_id)).instance_id is None


@pytest.mark.asyncio
async def test_the_fake_puts_the_instance_in_every_webhook(fake_shop: FakeShop) -> None:
    """Payment and refund webhooks of a marked session both name the instance."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request(instance_id=INSTANCE))
    await fake_shop.gateway.perform(session.session_id, "pay")
    await fake_shop.gateway.perform(session.session_id, "refund", 100)
    await fake_shop.gateway.drain()
    sent = [json.loads(item.body)["data"]["instance_id"] for item in fake_shop.received]
    assert sent == [INSTANCE, INSTANCE]
    assert [e.instance_id for e in fake_shop.events()] == [INSTANCE, INSTANCE]


@pytest.mark.asyncio
async def test_a_fake_webhook_with_a_non_text_instance_is_malformed(fake_shop: FakeShop) -> None:
    """A signed fake event whose instance id is not a string is refused."""
    payload = {
        "id": "evt_1",
        "type": "payment_succeeded",
        "created": 0,
        "data": {
            "session_id": "fs_1",
            "order_id": "1",
            "amount": 1,
            "currency": "EUR",
            "instance_id": 7,
        },
    }
    body, headers = fake_shop.gateway.render_webhook(payload)
    with pytest.raises(WebhookVerificationError):
        fake_shop.gateway.verify_webhook(body, headers)


def test_the_instance_survives_storing_and_replaying_an_event() -> None:
    """to_dict/from_dict keep the instance id, so a replayed event is judged the same."""
    event = GatewayEvent(
        gateway="stripe",
        event_id="evt_1",
        kind=EventKind.PAYMENT_SUCCEEDED,
        session_id="cs_1",
        order_id="1",
        amount=300,
        currency="USD",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        raw_type="checkout.session.completed",
        instance_id=INSTANCE,
    )
    assert GatewayEvent.from_dict(event.to_dict()) == event
