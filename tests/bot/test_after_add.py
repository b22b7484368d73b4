"""After an add the reply shows the line as it now stands, and where to go next:
Keep shopping, Checkout, View cart."""

from __future__ import annotations

import pytest

from bot.testing import InteractionResult
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

GERMAN = pytest.mark.parametrize(
    "shopfront", [{"locale": "de_DE", "currency": "EUR"}], indirect=True, ids=["de_DE-EUR"]
)


def _buttons(result: InteractionResult) -> list[tuple[str, str]]:
    assert result.final is not None
    return [
        (str(c.get("label")), str(c["custom_id"]))
        for c in result.final.iter_components()
        if c.get("type") == 2
    ]


async def test_cart_add_shows_the_line_with_quantity_and_line_price(shopfront: Shopfront) -> None:
    """/cart add paid-1m × 3: "Paid account, 1 month × 3 — $9.00"."""
    result = await shopfront.harness.slash(
        shopfront.alice, "cart", "add", options={"item": "paid-1m", "quantity": 3}
    )
    assert result.embed["title"] == "Added to your cart"
    assert result.embed["description"] == "**Paid account, 1 month** × 3 — $9.00"


async def test_the_add_reply_offers_keep_shopping_checkout_and_view_cart(
    shopfront: Shopfront,
) -> None:
    """Keep shopping, Checkout (for her cart) and View cart, once each."""
    alice = shopfront.alice
    result = await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-1m"})
    assert _buttons(result) == [
        ("Keep shopping", "panel:browse"),
        ("Checkout", f"cart:checkout:{alice.id}"),
        ("View cart", "shop:cart"),
    ]


async def test_adding_again_shows_the_line_grown(shopfront: Shopfront) -> None:
    """The Add button pressed twice: the reply shows × 2 and the doubled line price."""
    h, alice = shopfront.harness, shopfront.alice
    item = await h.slash(alice, "item", item="paid-1m")
    await h.press(alice, item, "shop:add:paid-1m")
    again = await h.press(alice, item, "shop:add:paid-1m")
    assert again.embed["description"] == "**Paid account, 1 month** × 2 — $6.00"


@GERMAN
async def test_the_added_line_price_is_in_the_shops_locale(shopfront: Shopfront) -> None:
    """de_DE/EUR: the line price reads 6,00 €."""
    result = await shopfront.harness.slash(
        shopfront.alice, "cart", "add", options={"item": "paid-1m", "quantity": 2}
    )
    assert result.embed["description"].endswith("× 2 — 6,00\xa0€")


async def test_a_gift_added_by_the_modal_names_the_recipient_and_anonymity(
    shopfront: Shopfront,
) -> None:
    """Gift… → bob → anonymously → note: the reply says it is an anonymous gift for bob."""
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    item = await h.slash(alice, "item", item="points-500")
    ask = await h.press(alice, item, "shop:gift:points-500")
    chosen = await h.select(alice, ask, "gift:to:points-500", [bob])
    modal = await h.press(alice, chosen, f"gift:note:points-500:{bob.id}:1")
    added = await h.submit_modal(alice, modal, {"note": "for you"})
    assert added.embed["description"] == (
        f"**500 points** × 1 — $50.00\nGift for <@{bob.id}> (anonymous)"
    )
    assert ("Keep shopping", "panel:browse") in _buttons(added)


async def test_a_signed_gift_and_an_own_line_of_one_item_are_told_apart(
    shopfront: Shopfront,
) -> None:
    """Adding paid-1m for herself after a signed gift of it shows her own line (× 1)."""
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 2, "for": bob})
    mine = await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    assert mine.embed["description"] == "**Paid account, 1 month** × 1 — $3.00"


async def test_keep_shopping_opens_the_shop(shopfront: Shopfront) -> None:
    """Keep shopping answers with the shop, its menu and the cart summary."""
    h, alice = shopfront.harness, shopfront.alice
    added = await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    shop = await h.press(alice, added, "panel:browse")
    assert shop.embed["title"] == shopfront.bot.shop.template.name
    assert shop.final is not None and shop.final.find_component("shop:pick") is not None
