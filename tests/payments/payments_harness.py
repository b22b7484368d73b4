"""Helpers for payments tests: a stand-in shop web app, a settable clock, a fake gateway.

A uniquely named module rather than conftest, so test modules can import the types.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from payments.fake import FakeGateway, FakeOptions
from payments.gateway import GatewayContext
from payments.models import CheckoutLine, CheckoutRequest, GatewayEvent

SECRET = "whsec_fake_test_secret"
STRIPE_WEBHOOK_SECRET = "whsec_stripe_test"


class Clock:
    """A settable clock, so expiry and signature windows are tested without sleeping."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class ShopApp:
    """Plays the shop's web app: records webhooks and serves the return pages."""

    app: web.Application
    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    stall_seconds: list[float] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` webhooks have arrived; wrap in asyncio.timeout."""
        while len(self.received) < count:
            self.arrived.clear()
            await self.arrived.wait()

    async def _webhook(self, request: web.Request) -> web.Response:
        self.received.append(Received(await request.read(), dict(request.headers)))
        self.arrived.set()
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds.pop(0))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def _return(self, request: web.Request) -> web.Response:
        return web.Response(text=f"payment received for {request.query.get('session_id')}")

    async def _cancelled(self, request: web.Request) -> web.Response:
        return web.Response(text="checkout cancelled")


@dataclass
class FakeShop:
    shop: ShopApp
    gateway: FakeGateway
    http: aiohttp.ClientSession
    clock: Clock

    @property
    def received(self) -> list[Received]:
        return self.shop.received

    def events(self) -> list[GatewayEvent]:
        """Every received webhook, verified the way the shop's receiver will."""
        return [
            event
            for item in self.shop.received
            for event in self.gateway.verify_webhook(item.body, item.headers)
        ]

    def request(
        self, order_id: str = "order-1", key: str | None = None, **kw: Any
    ) -> CheckoutRequest:
        lines = kw.pop("lines", (CheckoutLine("Gold membership, 30 days", 2, 450),))
        values: dict[str, Any] = {
            "order_id": order_id,
            "idempotency_key": key or f"key-{order_id}",
            "lines": lines,
            "total": sum(line.quantity * line.unit_amount for line in lines),
            "currency": "EUR",
            "success_url": f"{self.shop.url}/checkout/return",
            "cancel_url": f"{self.shop.url}/checkout/cancelled",
            "expires_at": self.clock() + timedelta(hours=1),
        }
        values.update(kw)
        return CheckoutRequest(**values)


FakeShopFactory = Callable[..., Awaitable[FakeShop]]


async def start_fake_shop(
    clock: Clock, *, gateway_class: type[FakeGateway] = FakeGateway, **overrides: Any
) -> tuple[FakeShop, Callable[[], Awaitable[None]]]:
    """A started shop app with the fake gateway's routes mounted; returns it and its cleanup.

    ``gateway_class`` may be a variant of the fake (one without subscriptions, say)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = web.Application()
    shop = ShopApp(app, url)
    app.router.add_post("/webhooks/fake", shop._webhook)
    app.router.add_get("/checkout/return", shop._return)
    app.router.add_get("/checkout/cancelled", shop._cancelled)
    options: dict[str, Any] = {
        "webhook_secret": SECRET,
        "retry_backoff_seconds": 0.01,
        "delivery_timeout_seconds": 2,
        "pay_later_settle_seconds": 0,
    }
    options.update(overrides)
    context = GatewayContext(shop_name="Test Guild Shop", public_url=url, clock=clock)
    gateway = gateway_class(FakeOptions.model_validate(options), context)
    gateway.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await gateway.start()
    http = aiohttp.ClientSession()

    async def cleanup() -> None:
        await http.close()
        await gateway.close()
        await runner.cleanup()

    return FakeShop(shop, gateway, http, clock), cleanup


def checkout_request(clock: Clock, **kw: Any) -> CheckoutRequest:
    """A two-line checkout of 10.99 EUR for order-17, as the Stripe tests use."""
    values: dict[str, Any] = {
        "order_id": "order-17",
        "idempotency_key": "cart-5-v2",
        "lines": (CheckoutLine("Gold, 30 days", 2, 450), CheckoutLine("500 points", 1, 199)),
        "total": 1099,
        "currency": "EUR",
        "success_url": "https://shop.test/checkout/return",
        "cancel_url": "https://shop.test/checkout/cancelled",
        "expires_at": clock() + timedelta(hours=2),
        "description": "Order 17",
    }
    values.update(kw)
    return CheckoutRequest(**values)
