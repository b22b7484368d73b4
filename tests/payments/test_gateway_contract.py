"""Every installed gateway passes the shared contract; one without a driver fails loudly."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from payments_harness import STRIPE_WEBHOOK_SECRET, Clock, FakeShop
from stripe_api_stub import StripeStub, signed

from payments.contract import (
    GatewayDriver,
    OneOffGatewayContract,
    RenewingGatewayContract,
    SignedWebhook,
)
from payments.fake import FakeGateway
from payments.gateway import Gateway
from payments.models import CheckoutLine, CheckoutRequest, CheckoutSession, RefundResult
from payments.registry import gateway_class, installed_gateways
from payments.stripe_gateway import StripeGateway


def _request(clock: Clock, base_url: str, order_id: str, key: str) -> CheckoutRequest:
    return CheckoutRequest(
        order_id=order_id,
        idempotency_key=key,
        lines=(CheckoutLine("Contract item", 3, 250),),
        total=750,
        currency="EUR",
        success_url=f"{base_url}/checkout/return",
        cancel_url=f"{base_url}/checkout/cancelled",
        expires_at=clock() + timedelta(hours=1),
    )


class FakeDriver(GatewayDriver):
    def __init__(self, shop: FakeShop) -> None:
        self.shop = shop

    def checkout_request(self, order_id: str, idempotency_key: str) -> CheckoutRequest:
        return _request(self.shop.clock, self.shop.shop.url, order_id, idempotency_key)

    async def pay(self, session: CheckoutSession) -> None:
        url = f"{self.shop.shop.url}/fake-gateway/sessions/{session.session_id}/pay"
        async with self.shop.http.post(url, headers={"Accept": "application/json"}) as r:
            assert r.status == 200

    async def payment_webhook(self, session: CheckoutSession) -> SignedWebhook:
        """The webhook as it actually arrived at the shop over HTTP."""
        await self.shop.gateway.drain()
        for item in self.shop.received:
            payload = json.loads(item.body)
            if (payload["type"], payload["data"]["session_id"]) == (
                "payment_succeeded",
                session.session_id,
            ):
                return item.body, item.headers
        raise AssertionError(f"no payment webhook arrived for {session.session_id}")

    async def refund_webhook(self, session: CheckoutSession, refund: RefundResult) -> SignedWebhook:
        await self.shop.gateway.drain()
        for item in self.shop.received:
            payload = json.loads(item.body)
            if (payload["type"], payload["data"]["subject_id"]) == (
                "refund_succeeded",
                refund.refund_id,
            ):
                return item.body, item.headers
        raise AssertionError(f"no refund webhook arrived for {refund.refund_id}")

    async def unknown_webhook(self) -> SignedWebhook:
        return self.shop.gateway.render_webhook(
            {"id": "evt_unknown", "type": "customer.updated", "created": 0, "data": {}}
        )

    async def renew(self, subscription_id: str) -> None:
        url = f"{self.shop.shop.url}/fake-gateway/subscriptions/{subscription_id}/renew"
        async with self.shop.http.post(url, headers={"Accept": "application/json"}) as r:
            assert r.status == 200

    async def subscription_webhooks(self, subscription_id: str) -> list[SignedWebhook]:
        await self.shop.gateway.drain()
        return [
            (item.body, item.headers)
            for item in self.shop.received
            if json.loads(item.body)["data"].get("subscription_id") == subscription_id
        ]


class StripeDriver(GatewayDriver):
    def __init__(self, stub: StripeStub, clock: Clock) -> None:
        self.stub = stub
        self.clock = clock
        stub.clock = lambda: int(clock().timestamp())

    def checkout_request(self, order_id: str, idempotency_key: str) -> CheckoutRequest:
        return _request(self.clock, "https://shop.test", order_id, idempotency_key)

    async def pay(self, session: CheckoutSession) -> None:
        self.stub.pay(session.session_id)

    def _signed(self, event_type: str, obj: dict[str, Any]) -> SignedWebhook:
        timestamp = int(self.clock().timestamp())
        body = self.stub.event(event_type, obj, timestamp)
        return body, signed(body, STRIPE_WEBHOOK_SECRET, timestamp)

    async def payment_webhook(self, session: CheckoutSession) -> SignedWebhook:
        return self._signed("checkout.session.completed", self.stub.sessions[session.session_id])

    async def refund_webhook(self, session: CheckoutSession, refund: RefundResult) -> SignedWebhook:
        return self._signed(
            "refund.created", {**self.stub.refunds[refund.refund_id], "status": "succeeded"}
        )

    async def unknown_webhook(self) -> SignedWebhook:
        return self._signed("customer.created", {"id": "cus_1", "object": "customer"})

    async def renew(self, subscription_id: str) -> None:
        self.stub.renew(subscription_id)

    async def subscription_webhooks(self, subscription_id: str) -> list[SignedWebhook]:
        """What Stripe sent about the subscription, signed as it arrives now."""
        timestamp = int(self.clock().timestamp())
        return [
            (body, signed(body, STRIPE_WEBHOOK_SECRET, timestamp))
            for body in self.stub.webhooks(subscription_id)
        ]


Harness = tuple[Gateway, GatewayDriver]


async def _fake(make_fake_shop: Callable[..., Awaitable[FakeShop]], **_: Any) -> Harness:
    shop = await make_fake_shop()
    return shop.gateway, FakeDriver(shop)


async def _stripe(
    make_stripe: Callable[..., Awaitable[StripeGateway]],
    stripe_stub: StripeStub,
    clock: Clock,
    **_: Any,
) -> Harness:
    return await make_stripe(), StripeDriver(stripe_stub, clock)


class OneOffFake(FakeGateway):
    """The fake gateway as one without subscriptions would be: the one-off contract's
    subject while every installed gateway renews."""

    supports_subscriptions: ClassVar[bool] = False


async def _one_off_fake(make_fake_shop: Callable[..., Awaitable[FakeShop]], **_: Any) -> Harness:
    shop = await make_fake_shop(gateway_class=OneOffFake)
    return shop.gateway, FakeDriver(shop)


DRIVERS: dict[str, Callable[..., Awaitable[Harness]]] = {
    "fake": _fake,
    "stripe": _stripe,
    "one-off fake": _one_off_fake,
}


def _renews(name: str) -> bool:
    return gateway_class(name).supports_subscriptions


RENEWING = sorted(name for name in installed_gateways() if _renews(name))
ONE_OFF = [*sorted(name for name in installed_gateways() if not _renews(name)), "one-off fake"]


class _Harnessed:
    """Builds the gateway and its driver for the parametrized ``gateway_name``."""

    @pytest_asyncio.fixture
    async def harness(
        self,
        gateway_name: str,
        make_fake_shop: Any,
        make_stripe: Any,
        stripe_stub: StripeStub,
        clock: Clock,
    ) -> Harness:
        build = DRIVERS.get(gateway_name)
        if build is None:
            pytest.fail(
                f"gateway {gateway_name!r} is installed but has no contract driver; "
                "add one to DRIVERS in tests/payments/test_gateway_contract.py"
            )
        return await build(
            make_fake_shop=make_fake_shop,
            make_stripe=make_stripe,
            stripe_stub=stripe_stub,
            clock=clock,
        )

    @pytest.fixture
    def gateway(self, harness: Harness) -> Gateway:
        return harness[0]

    @pytest.fixture
    def driver(self, harness: Harness) -> GatewayDriver:
        return harness[1]


@pytest.mark.parametrize("gateway_name", RENEWING)
class TestRenewingGateway(_Harnessed, RenewingGatewayContract):
    """Every installed gateway that declares subscriptions."""


@pytest.mark.parametrize("gateway_name", ONE_OFF)
class TestOneOffGateway(_Harnessed, OneOffGatewayContract):
    """Every installed gateway without subscriptions, and a fake one standing for them."""
