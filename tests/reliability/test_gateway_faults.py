"""The payment provider times out or fails during checkout: a clear answer, one session.

The real bot runs with the Stripe gateway pointed at the local Stripe stub, which
can stall past the client's timeout (after creating the session, as a slow Stripe
does) or answer 500. The member is told to try again; the retry reuses the order's
idempotency key, so Stripe hands back the same session, never a second one.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from store.orders import OrderState
from tests.bot.conftest import Shopfront
from tests.payments.stripe_api_stub import StripeStub
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def stub() -> AsyncIterator[StripeStub]:
    server = StripeStub()
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture
async def front(
    tmp_path: Path, sqlite_template: Path, stub: StripeStub
) -> AsyncIterator[Shopfront]:
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)

    def stripe(data: dict[str, Any]) -> None:
        data["payments"]["gateway"] = "stripe"
        data["payments"]["stripe"] = {
            "api_key": "sk_test_reliability",
            "webhook_secret": "whsec_reliability",
            "api_base": stub.url,
            "timeout_seconds": 0.3,
            "max_network_retries": 0,
        }

    async with build_shopfront(f"sqlite+aiosqlite:///{path}", FakeClock(), stripe) as shopfront:
        yield shopfront


def _pay_url(result: Any) -> str | None:
    for row in result.components:
        for component in row["components"]:
            if component.get("url"):
                return str(component["url"])
    return None


@pytest.mark.parametrize("fault", ["timeout", "500"])
async def test_checkout_fault_answers_clearly_and_the_retry_gets_the_same_session(
    front: Shopfront, stub: StripeStub, fault: str
) -> None:
    """First /checkout: "try again", order waits; second: the Pay link; one session."""
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    if fault == "timeout":
        stub.stalls.append(0.8)
    else:
        stub.failures.append(500)
    first = await front.harness.slash(front.alice, "checkout")
    assert first.ephemeral
    assert first.embed["title"] == "Can't do that"
    assert "try again" in first.embed["description"].lower()
    assert _pay_url(first) is None
    [order] = await front.bot.shop.orders.recent(front.guild_id, front.alice.id)
    assert order.state is OrderState.PENDING and order.gateway_session_id is None
    second = await front.harness.slash(front.alice, "checkout")
    url = _pay_url(second)
    assert url is not None and second.ephemeral
    [again] = await front.bot.shop.orders.recent(front.guild_id, front.alice.id)
    assert again.id == order.id and again.gateway_session_id is not None
    third = await front.harness.slash(front.alice, "checkout")
    assert _pay_url(third) == url
    created = stub.calls("POST", "/v1/checkout/sessions")
    keys = {call.headers.get("Idempotency-Key") for call in created}
    assert len(keys) == 1, keys
    sessions = set(stub.sessions)
    # The stalled call created the session the retry got back; the 500 created none.
    assert len(sessions) == 1 and again.gateway_session_id in sessions
    print(f"{fault}: {len(created)} create calls, {len(sessions)} session(s) at the gateway")
