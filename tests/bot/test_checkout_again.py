"""Checkout pressed again after its order was paid says so plainly."""

from __future__ import annotations

import pytest

from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


async def _pay_by_card(shopfront: Shopfront) -> int:
    """Alice checks out paid-1m and pays on the fake gateway's page; returns the order id."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    checkout = await h.slash(alice, "checkout")
    url = next(c["url"] for row in checkout.components for c in row["components"] if c.get("url"))
    async with shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{url.rsplit('/', 1)[1]}/pay"
    ) as paid:
        assert paid.status == 200
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    order = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id, limit=1)
    assert order[0].paid_at is not None
    return order[0].id


async def test_checkout_after_a_card_payment_says_the_order_was_paid(
    shopfront: Shopfront,
) -> None:
    """Never "paid with points — 0 points spent" for an order paid by card."""
    order_id = await _pay_by_card(shopfront)
    again = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert again.embed["title"] == f"Order #{order_id} is already paid"
    assert f"Order #{order_id} was paid on <t:" in again.embed["description"]
    assert "your cart is empty" in again.embed["description"]
    assert "points" not in again.embed["title"] + again.embed["description"]


async def test_checkout_with_points_still_says_what_the_points_paid(
    shopfront: Shopfront,
) -> None:
    """The first press that pays wholly with points is answered as before."""
    shop, alice = shopfront.bot.shop, shopfront.alice
    await shop.grants.grant_points(shopfront.guild_id, shopfront.mod.id, alice.id, 500, "seed")
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-1m"})
    paid = await shopfront.harness.slash(alice, "checkout", options={"use_points": True})
    assert paid.embed["title"].endswith("paid with points")
    again = await shopfront.harness.slash(alice, "checkout", options={"use_points": True})
    assert again.embed["title"].endswith("is already paid")
