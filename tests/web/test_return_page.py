"""GET /checkout/return over HTTP: flooding it makes no stream of calls to Stripe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from store.db.engine import Database
from store.orders import OrderState
from tests.payments.stripe_api_stub import StripeStub
from tests.support import ALICE, GUILD, FakeClock
from tests.web.stripe_storefront import StripeStorefront, start_stripe_storefront

pytestmark = pytest.mark.asyncio

Factory = Callable[..., Awaitable[StripeStorefront]]


@pytest_asyncio.fixture
async def make_front(
    database: Database, database_url: str, stub: StripeStub, clock: FakeClock
) -> AsyncIterator[Factory]:
    cleanups = []

    async def build(**options: float) -> StripeStorefront:
        front, cleanup = await start_stripe_storefront(database_url, stub, clock, **options)
        cleanups.append(cleanup)
        return front

    yield build
    for cleanup in cleanups:
        await cleanup()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _session_reads(stub: StripeStub) -> int:
    return sum(
        1
        for r in stub.requests
        if r.method == "GET" and r.path.startswith("/v1/checkout/sessions/")
    )


async def _return(http: aiohttp.ClientSession, front: StripeStorefront, session_id: str) -> str:
    url = f"{front.url}/checkout/return?session_id={quote(session_id)}"
    async with http.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_a_flood_for_one_session_asks_stripe_once(
    make_front: Factory, stub: StripeStub, http: aiohttp.ClientSession
) -> None:
    """Fifty loads of the return page at once for a waiting order: one session read."""
    front = await make_front()
    _, session_id = await front.checkout(ALICE)
    pages = await asyncio.gather(*(_return(http, front, session_id) for _ in range(50)))
    assert _session_reads(stub) == 1
    assert all("being confirmed" in page for page in pages)


async def test_sessions_of_no_order_never_reach_stripe(
    make_front: Factory, stub: StripeStub, http: aiohttp.ClientSession
) -> None:
    """Made-up, overlong and NUL-bearing session ids are answered without asking Stripe."""
    front = await make_front()
    await front.checkout(ALICE)
    made_up = [f"cs_test_forged{i}" for i in range(40)] + ["x" * 5000, "cs_\x00", " "]
    pages = await asyncio.gather(*(_return(http, front, s) for s in made_up))
    assert _session_reads(stub) == 0
    assert all("is not one of this shop" in page for page in pages)


async def test_stripe_is_asked_again_once_the_interval_has_passed(
    make_front: Factory, stub: StripeStub, http: aiohttp.ClientSession
) -> None:
    """Within the interval a reload is answered from the store; after it Stripe is asked."""
    front = await make_front(return_check_seconds=0.3)
    _, session_id = await front.checkout(ALICE)
    await _return(http, front, session_id)
    await _return(http, front, session_id)
    assert _session_reads(stub) == 1
    await asyncio.sleep(0.35)
    await _return(http, front, session_id)
    assert _session_reads(stub) == 2


async def test_a_paid_session_is_fulfilled_from_the_return_page_then_not_asked_about(
    make_front: Factory, stub: StripeStub, http: aiohttp.ClientSession
) -> None:
    """The redirect after paying fulfils the order; later loads need no gateway call."""
    front = await make_front()
    order_id, session_id = await front.checkout(ALICE)
    stub.pay(session_id)
    assert "Payment received" in await _return(http, front, session_id)
    assert (await front.shop.orders.get(GUILD, order_id)).state is OrderState.FULFILLED
    pages = await asyncio.gather(*(_return(http, front, session_id) for _ in range(20)))
    assert all("Payment received" in page for page in pages)
    assert _session_reads(stub) == 1
