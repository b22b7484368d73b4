"""A running web application on loopback: store, fake gateway, real HTTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest_asyncio
from aiohttp import web

from bot.payflow import PaymentFlow
from bot.web import create_web_app
from payments.fake import FakeGateway
from payments.gateway import GatewayContext
from payments.registry import load_gateway
from store.db.engine import Database, create_engine
from store.shop import Shop
from tests.payments.stripe_api_stub import StripeStub
from tests.support import FakeClock, sample_store, sample_tiers

SECRET = "whsec_test_only"


@dataclass
class Storefront:
    shop: Shop
    gateway: FakeGateway
    flow: PaymentFlow
    url: str
    http: aiohttp.ClientSession
    database_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LOCK_TIMEOUT_MS = 300


@pytest_asyncio.fixture
async def storefront(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Storefront]:
    """`database` prepares the tables; the app gets its own engine with a short lock wait."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    db = Database(create_engine(database_url, lock_timeout_ms=LOCK_TIMEOUT_MS))
    shop = Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    context = GatewayContext(shop_name="Test Shop", public_url=url, clock=clock)
    gateway = load_gateway(
        "fake",
        {"webhook_secret": SECRET, "retry_backoff_seconds": 0.01, "max_delivery_attempts": 4},
        context,
    )
    assert isinstance(gateway, FakeGateway)
    flow = PaymentFlow(shop, gateway, public_url=url)
    runner = web.AppRunner(create_web_app(flow))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await gateway.start()
    async with aiohttp.ClientSession() as http:
        yield Storefront(shop, gateway, flow, url, http, database_url)
    await gateway.close()
    await runner.cleanup()
    await db.dispose()


@pytest_asyncio.fixture
async def stub() -> AsyncIterator[StripeStub]:
    """Stripe's API on loopback, shared by the storefronts of one test."""
    server = StripeStub()
    await server.start()
    yield server
    await server.close()
