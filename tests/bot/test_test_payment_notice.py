"""Checkout replies say plainly when the gateway takes no real money, and only then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.render.checkout import TEST_PAYMENT
from store.db.engine import Database
from tests.bot.conftest import Shopfront
from tests.payments.stripe_api_stub import StripeStub, gateway_table
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


def _notice(result: Any) -> list[str]:
    return [field["value"] for field in result.embed.get("fields", []) if "Test" in field["name"]]


@pytest_asyncio.fixture
async def stripe_front(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Shopfront]:
    """The bot on the Stripe gateway (the local stub): real money in production."""
    stub = StripeStub()
    await stub.start()

    def stripe(data: dict[str, Any]) -> None:
        data["payments"]["gateway"] = "stripe"
        data["payments"]["stripe"] = gateway_table(stub.url)

    try:
        async with build_shopfront(database_url, clock, stripe) as shopfront:
            yield shopfront
    finally:
        await stub.close()


async def test_a_checkout_on_the_fake_gateway_says_it_is_a_test_payment(
    shopfront: Shopfront,
) -> None:
    """/checkout on the fake gateway: the reply says no money is taken, beside the Pay link."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert result.components  # the Pay link is there
    assert _notice(result) == [TEST_PAYMENT]
    assert "no money is taken" in TEST_PAYMENT


async def test_the_cart_buttons_checkout_says_it_too(shopfront: Shopfront) -> None:
    """The Checkout button's reply carries the same notice as the command's."""
    added = await shopfront.harness.slash(
        shopfront.alice, "cart", "add", options={"item": "points-100"}
    )
    result = await shopfront.harness.press(
        shopfront.alice, added, f"cart:checkout:{shopfront.alice.id}"
    )
    assert _notice(result) == [TEST_PAYMENT]


async def test_a_checkout_on_a_real_gateway_carries_no_test_notice(
    stripe_front: Shopfront,
) -> None:
    """On Stripe the same checkout has its Pay link and no test-payment notice."""
    await stripe_front.harness.slash(stripe_front.alice, "cart", "add", options={"item": "paid-1m"})
    result = await stripe_front.harness.slash(stripe_front.alice, "checkout")
    assert result.components
    assert _notice(result) == []
