"""Fixtures for payments tests; the helpers themselves live in payments_harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from payments_harness import Clock, FakeShop, start_fake_shop

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
