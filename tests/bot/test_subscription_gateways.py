"""A gateway that cannot renew is never offered a subscription."""

from __future__ import annotations

from typing import Any

import pytest

from store.db.engine import Database
from tests.bot.test_subscription_flow import WITH_SUBSCRIPTION
from tests.bot.two_gateways import STRIPE_WEBHOOK_SECRET, two_gateway_front
from tests.payments.stripe_api_stub import StripeStub, gateway_table
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


def _link(result: Any) -> str:
    return next(c["url"] for row in result.components for c in row["components"] if c.get("url"))


async def test_with_one_renewing_gateway_of_two_a_subscription_goes_straight_to_it(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    """Stripe (not renewing here yet) and the fake: no choice to make, the fake's page."""
    async with two_gateway_front(database_url, clock, **WITH_SUBSCRIPTION) as (front, _stub):
        h, alice = front.harness, front.alice
        await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
        checkout = await h.slash(alice, "checkout")
        assert "/fake-gateway/checkout/" in _link(checkout)
        [order] = await front.bot.shop.orders.recent(front.guild_id, alice.id)
        assert order.gateway == "fake"


async def test_a_shop_whose_gateways_cannot_renew_refuses_the_checkout_and_keeps_the_cart(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    stub = StripeStub()
    await stub.start()

    def stripe_only(data: dict[str, Any]) -> None:
        data["payments"]["gateway"] = "stripe"
        data["payments"].pop("gateways", None)
        data["payments"]["stripe"] = gateway_table(stub.url, STRIPE_WEBHOOK_SECRET)
        data["store"].update(WITH_SUBSCRIPTION)

    try:
        async with build_shopfront(database_url, clock, stripe_only) as front:
            h, alice = front.harness, front.alice
            await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
            refused = await h.slash(alice, "checkout")
            assert "can renew a subscription" in str(refused.embed)
            assert await front.bot.shop.orders.recent(front.guild_id, alice.id) == []
            cart = await front.bot.shop.carts.view(front.guild_id, alice.id)
            assert [line.sku for line in cart.lines] == ["paid-monthly"]
            assert not [r for r in stub.requests if "checkout" in r.path]
    finally:
        await stub.close()
