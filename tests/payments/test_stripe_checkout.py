"""The Stripe adapter's outbound calls, checked against the local Stripe stub."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from payments_harness import Clock, checkout_request
from stripe_api_stub import StripeStub

from payments.errors import GatewayError
from payments.stripe_gateway import StripeGateway

pytestmark = pytest.mark.asyncio

StripeFactory = Callable[..., Any]


async def test_checkout_sends_inline_prices_in_minor_units(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Each line becomes price_data with a lower-case currency and the unit amount."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "payment"
    assert call.params["line_items"] == [
        {
            "quantity": "2",
            "price_data": {
                "currency": "eur",
                "unit_amount": "450",
                "product_data": {"name": "Gold, 30 days"},
            },
        },
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "199",
                "product_data": {"name": "500 points"},
            },
        },
    ]


async def test_checkout_carries_our_order_id(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The order id travels in client_reference_id and in session and payment metadata."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert call.params["client_reference_id"] == "order-17"
    assert call.params["metadata"] == {"order_id": "order-17"}
    assert call.params["payment_intent_data"]["metadata"] == {"order_id": "order-17"}


async def test_checkout_sends_a_derived_idempotency_key(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The Idempotency-Key header is derived from our key, not random."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert call.headers["Idempotency-Key"] == "storefront-checkout-cart-5-v2"


async def test_success_url_asks_stripe_for_the_session_id(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The return page gets session_id from Stripe's placeholder, as from the fake."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    expected = "https://shop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}"
    assert call.params["success_url"] == expected


async def test_same_key_twice_creates_one_session(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A retried checkout replays Stripe's answer: one session, same id."""
    first = await stripe_gateway.create_checkout(checkout_request(clock))
    again = await stripe_gateway.create_checkout(checkout_request(clock))
    assert again == first
    assert len(stripe_stub.sessions) == 1


async def test_checkout_returns_url_and_expiry(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The session's hosted URL and its expiry come back as Stripe set them."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.session_id}"
    assert session.expires_at == clock() + timedelta(hours=2)


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        (timedelta(minutes=5), timedelta(minutes=31)),
        (timedelta(hours=48), timedelta(hours=23, minutes=59)),
    ],
)
async def test_expiry_is_clamped_to_stripes_window(
    stripe_gateway: StripeGateway,
    stripe_stub: StripeStub,
    clock: Clock,
    asked: timedelta,
    sent: timedelta,
) -> None:
    """Stripe only accepts 30 minutes to 24 hours; we clamp rather than fail."""
    await stripe_gateway.create_checkout(checkout_request(clock, expires_at=clock() + asked))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert int(call.params["expires_at"]) == int((clock() + sent).timestamp())


async def test_server_error_is_a_transient_gateway_error(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A 500 from Stripe can be retried later with the same key."""
    stripe_stub.failures.append(500)
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.create_checkout(checkout_request(clock))
    assert caught.value.transient is True


async def test_timeout_is_a_transient_gateway_error(
    make_stripe: StripeFactory, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A Stripe call that exceeds the timeout can be retried later."""
    gateway: StripeGateway = await make_stripe(timeout_seconds=0.2)
    stripe_stub.stalls.append(0.6)
    with pytest.raises(GatewayError) as caught:
        await gateway.create_checkout(checkout_request(clock))
    assert caught.value.transient is True


async def test_bad_request_is_a_permanent_gateway_error(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A 400 will fail the same way again, so it is not marked transient."""
    stripe_stub.failures.append(400)
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.create_checkout(checkout_request(clock))
    assert caught.value.transient is False


async def test_sdk_retries_a_500_with_the_same_key(
    make_stripe: StripeFactory, stripe_stub: StripeStub, clock: Clock
) -> None:
    """With network retries on, a 500 then success yields one session, one key."""
    gateway: StripeGateway = await make_stripe(max_network_retries=1)
    stripe_stub.failures.append(500)
    await gateway.create_checkout(checkout_request(clock))
    calls = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert len(calls) == 2
    assert {c.headers["Idempotency-Key"] for c in calls} == {"storefront-checkout-cart-5-v2"}
    assert len(stripe_stub.sessions) == 1


async def test_api_key_is_sent_only_as_bearer_auth(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The secret key goes in the Authorization header and nowhere in the body."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    [call] = stripe_stub.calls("POST", "/v1/checkout/sessions")
    assert call.headers["Authorization"] == "Bearer sk_test_stub"
    assert "sk_test_stub" not in repr(call.params)


async def test_fetch_session_reads_the_authoritative_state(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A paid session reads back complete, paid, with amount, currency and order id."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    stripe_stub.pay(session.session_id)
    state = await stripe_gateway.fetch_session(session.session_id)
    assert (state.status, state.paid, state.amount, state.currency, state.order_id) == (
        "complete",
        True,
        1099,
        "EUR",
        "order-17",
    )


async def test_refund_targets_the_payment_intent_with_a_derived_key(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A partial refund is created on the session's payment with our ids in metadata."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    paid = stripe_stub.pay(session.session_id)
    result = await stripe_gateway.refund(session.session_id, 300, "refund-order-17-1")
    [call] = stripe_stub.calls("POST", "/v1/refunds")
    assert call.params == {
        "payment_intent": paid["payment_intent"],
        "amount": "300",
        "metadata": {"session_id": session.session_id, "order_id": "order-17"},
    }
    assert call.headers["Idempotency-Key"] == "storefront-refund-refund-order-17-1"
    assert (result.amount, result.currency, result.status) == (300, "EUR", "succeeded")


async def test_refunding_an_unpaid_session_is_refused(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """No refund call is made when nothing was paid."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    with pytest.raises(GatewayError, match="no payment"):
        await stripe_gateway.refund(session.session_id, None, "r1")
    assert stripe_stub.calls("POST", "/v1/refunds") == []


async def test_expire_session_expires_an_open_session(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """An open session is expired at Stripe."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    await stripe_gateway.expire_session(session.session_id)
    assert stripe_stub.sessions[session.session_id]["status"] == "expired"


async def test_expire_session_refuses_a_paid_session(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Paid wins: a completed session is not expired."""
    session = await stripe_gateway.create_checkout(checkout_request(clock))
    stripe_stub.pay(session.session_id)
    with pytest.raises(GatewayError, match="paid wins"):
        await stripe_gateway.expire_session(session.session_id)
    assert stripe_stub.calls("POST", f"/v1/checkout/sessions/{session.session_id}/expire") == []
