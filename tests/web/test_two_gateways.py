"""One deployment with Stripe and the fake gateway: each gets its webhooks and returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
import pytest_asyncio

from store.db.engine import Database
from store.orders import OrderState
from tests.bot.conftest import Shopfront
from tests.bot.two_gateways import STRIPE_WEBHOOK_SECRET, two_gateway_front
from tests.payments.stripe_api_stub import StripeStub, signed
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def both(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Shopfront, StripeStub]]:
    async with two_gateway_front(database_url, clock) as front_and_stub:
        yield front_and_stub


async def _checkout(front: Shopfront, gateway: str) -> tuple[int, str]:
    """Alice's order through ``gateway``: its id and session id."""
    await front.bot.shop.carts.add(front.guild_id, front.alice.id, "paid-1m")
    outcome = await front.bot.flow.checkout(front.guild_id, front.alice.id, gateway=gateway)
    assert outcome.session is not None
    return outcome.order.id, outcome.session.session_id


async def _post(front: Shopfront, path: str, body: bytes = b"{}") -> int:
    async with front.http.post(f"{front.url}{path}", data=body) as response:
        return response.status


@pytest.mark.parametrize("name", ["stripe", "fake"])
async def test_each_enabled_gateway_has_its_webhook_endpoint(
    both: tuple[Shopfront, StripeStub], name: str
) -> None:
    """An unsigned body to an enabled gateway's endpoint is refused as unsigned (400)."""
    front, _ = both
    assert await _post(front, f"/webhooks/{name}") == 400


async def test_a_gateway_not_enabled_has_no_webhook_endpoint(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """Any other name answers 404."""
    front, _ = both
    assert await _post(front, "/webhooks/paypal") == 404


async def test_a_stripe_webhook_pays_the_stripe_order(
    both: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """The Stripe event, at /webhooks/stripe, settles the order made through Stripe."""
    front, stub = both
    order_id, session_id = await _checkout(front, "stripe")
    body = stub.event("checkout.session.completed", stub.pay(session_id))
    headers = signed(body, STRIPE_WEBHOOK_SECRET, int(clock().timestamp()))
    async with front.http.post(
        f"{front.url}/webhooks/stripe", data=body, headers=headers
    ) as response:
        assert response.status == 200
    order = await front.bot.shop.orders.get(front.guild_id, order_id)
    assert order.state is OrderState.FULFILLED


async def test_the_fake_gateways_webhook_pays_the_fake_order(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """Paying on the fake page delivers to /webhooks/fake beside Stripe's."""
    front, _ = both
    order_id, session_id = await _checkout(front, "fake")
    async with front.http.post(f"{front.url}/fake-gateway/sessions/{session_id}/pay") as paid:
        assert paid.status == 200
    await front.bot.gateways["fake"].drain()  # type: ignore[attr-defined]
    order = await front.bot.shop.orders.get(front.guild_id, order_id)
    assert order.state is OrderState.FULFILLED


async def _return_page(front: Shopfront, query: str) -> str:
    async with front.http.get(f"{front.url}/checkout/return?{query}") as response:
        return await response.text()


async def test_the_return_page_asks_the_gateway_the_url_names(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """The success URL names the gateway; the return page asks that one and fulfils."""
    front, stub = both
    order_id, session_id = await _checkout(front, "stripe")
    order = await front.bot.shop.orders.get(front.guild_id, order_id)
    stub.pay(session_id)
    page = await _return_page(front, f"order={order_id}&gateway=stripe&session_id={session_id}")
    assert "Payment received" in page
    assert order.gateway == "stripe"


async def test_the_return_page_without_a_gateway_tries_each(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """A return URL naming no gateway (or an unknown one) still finds the order."""
    front, stub = both
    order_id, session_id = await _checkout(front, "stripe")
    stub.pay(session_id)
    page = await _return_page(front, f"gateway=paypal&session_id={quote(session_id)}")
    assert "Payment received" in page
    order = await front.bot.shop.orders.get(front.guild_id, order_id)
    assert order.state is OrderState.FULFILLED


async def test_the_checkout_request_is_the_same_whichever_gateways_are_enabled(
    both: tuple[Shopfront, StripeStub],
) -> None:
    """The success URL names the order only, as with one gateway: an order whose
    session is retried after the operator enabled another gateway sends the very same
    request under its idempotency key (a gateway refuses a key reused differently)."""
    front, stub = both
    order_id, _ = await _checkout(front, "stripe")
    (created,) = stub.calls("POST", "/v1/checkout/sessions")
    success = f"{front.url}/checkout/return?order={order_id}&session_id={{CHECKOUT_SESSION_ID}}"
    assert created.params.get("success_url") == success
    assert created.params.get("cancel_url") == f"{front.url}/checkout/cancel?order={order_id}"
