"""Limited items through the bot: /shop marks what is sold out and leaves out what is
not on sale now; adding a sold-out item is refused with a reason."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from bot.settings import defaults_text
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

BADGE = {
    "sku": "badge",
    "name": "Founder badge",
    "price": 500,
    "kind": "membership",
    "tier": "paid",
    "days": 1,
    "stock": 1,
}
#: On sale only from a date after the shared clock's start. Both are memberships, so
#: both would be listed on /shop's first page.
LATER = {
    "sku": "summer-pack",
    "name": "Summer pack",
    "price": 900,
    "kind": "membership",
    "tier": "paid",
    "days": 90,
    "available_from": datetime(2026, 6, 1, tzinfo=UTC),
}
WITH_LIMITS = {"items": [*tomllib.loads(defaults_text())["store"]["items"], BADGE, LATER]}
limited_shop = pytest.mark.parametrize("shopfront", [WITH_LIMITS], indirect=True)


@limited_shop
async def test_shop_shows_the_last_unit_sold_out_once_ordered(shopfront: Shopfront) -> None:
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    before = await h.slash(bob, "shop")
    assert "Founder badge" in before.embed["description"]
    assert "Sold out" not in before.embed["description"]
    await h.slash(alice, "cart", "add", options={"item": "badge"})
    await h.slash(alice, "checkout")
    after = await h.slash(bob, "shop")
    [badge_line] = [ln for ln in after.embed["description"].splitlines() if "Founder badge" in ln]
    assert "Sold out" in badge_line
    refused = await h.slash(bob, "cart", "add", options={"item": "badge"})
    assert "Founder badge is sold out" in refused.embed["description"]


@limited_shop
async def test_shop_leaves_out_an_item_before_its_sale_window(shopfront: Shopfront) -> None:
    h, alice = shopfront.harness, shopfront.alice
    shown = await h.slash(alice, "shop")
    assert "Founder badge" in shown.embed["description"]
    assert "Summer pack" not in shown.embed["description"]
    refused = await h.slash(alice, "cart", "add", options={"item": "summer-pack"})
    assert "Summer pack is not on sale yet" in refused.embed["description"]
