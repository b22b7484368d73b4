"""Fixtures for payments tests; the helpers themselves live in payments_harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from payments_harness import STRIPE_WEBHOOK_SECRET, Clock, FakeShop, start_fake_shop
from stripe_api_stub import StripeStub

from payments.gateway import GatewayContext
from payments.stripe_gateway import StripeGateway, StripeOptions

FakeShopFactory = Callable[..., Awaitable[FakeShop]]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest_asyncio.fixture
async def make_fake_shop(clock: Clock) -> AsyncIterator[FakeShopFactory]:
    """Builds started shops with the fake gateway mounted; options can be overridden."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def build(**overrides: Any) -> FakeShop:
        shop, cleanup = await start_fake_shop(clock, **overrides)
        cleanups.append(cleanup)
        return shop

    yield build
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest_asyncio.fixture
async def fake_shop(make_fake_shop: FakeShopFactory) -> FakeShop:
    return await make_fake_shop()


@pytest_asyncio.fixture
async def stripe_stub() -> AsyncIterator[StripeStub]:
    stub = StripeStub()
    await stub.start()
    yield stub
    await stub.close()


StripeFactory = Callable[..., Awaitable[StripeGateway]]


@pytest_asyncio.fixture
async def make_stripe(stripe_stub: StripeStub, clock: Clock) -> AsyncIterator[StripeFactory]:
    """Builds started Stripe gateways pointed at the stub; options can be overridden."""
    gateways: list[StripeGateway] = []

    async def build(**overrides: Any) -> StripeGateway:
        options: dict[str, Any] = {
            "api_key": "sk_test_stub",
            "webhook_secret": STRIPE_WEBHOOK_SECRET,
            "api_base": stripe_stub.url,
            "max_network_retries": 0,
            "timeout_seconds": 2,
        }
        options.update(overrides)
        context = GatewayContext(shop_name="Shop", public_url="https://shop.test", clock=clock)
        gateway = StripeGateway(StripeOptions.model_validate(options), context)
        await gateway.start()
        gateways.append(gateway)
        return gateway

    yield build
    for gateway in gateways:
        await gateway.close()


@pytest_asyncio.fixture
async def stripe_gateway(make_stripe: StripeFactory) -> StripeGateway:
    return await make_stripe()
