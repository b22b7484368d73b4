"""Checkout one press away: every reply that carries a non-empty cart summary carries a
Checkout and a View cart button (once each, within Discord's five rows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest

from bot.controls import select, view
from bot.render.shop import with_cart
from bot.render.views import with_cart_row
from bot.testing import InteractionResult
from store.carts import CartLine, CartSummary
from store.money import Money
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

Ask = Callable[[Shopfront], Awaitable[InteractionResult]]


async def _shop(front: Shopfront) -> InteractionResult:
    return await front.harness.slash(front.alice, "shop")


async def _shop_next_page(front: Shopfront) -> InteractionResult:
    browse = await front.harness.slash(front.alice, "shop")
    return await front.harness.press(front.alice, browse, "shop:page:1")


async def _item(front: Shopfront) -> InteractionResult:
    return await front.harness.slash(front.alice, "item", item="paid-2m")


async def _picked(front: Shopfront) -> InteractionResult:
    browse = await front.harness.slash(front.alice, "shop")
    return await front.harness.select(front.alice, browse, "shop:pick", ["seed"])


async def _refused(front: Shopfront) -> InteractionResult:
    return await front.harness.slash(front.alice, "item", item="no-such-thing")


async def _account(front: Shopfront) -> InteractionResult:
    return await front.harness.slash(front.alice, "account")


async def _gift_prompt(front: Shopfront) -> InteractionResult:
    item = await front.harness.slash(front.alice, "item", item="points-100")
    return await front.harness.press(front.alice, item, "shop:gift:points-100")


REPLIES: dict[str, Ask] = {
    "shop": _shop,
    "shop-page-2": _shop_next_page,
    "item": _item,
    "item-picked": _picked,
    "refusal": _refused,
    "account": _account,
    "gift-prompt": _gift_prompt,
}


def _ids(result: InteractionResult) -> list[str]:
    assert result.final is not None
    return [str(c["custom_id"]) for c in result.final.iter_components() if "custom_id" in c]


def _summary_text(result: InteractionResult) -> str:
    return str(next(f["value"] for f in result.embed["fields"] if f["name"] == "🛒 Your cart"))


async def _with_a_line(front: Shopfront) -> None:
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})


@pytest.mark.parametrize("ask", REPLIES.values(), ids=REPLIES.keys())
async def test_a_reply_with_a_non_empty_cart_carries_checkout_and_view_cart(
    shopfront: Shopfront, ask: Ask
) -> None:
    """Each reply: one Checkout for her own cart, one View cart, and the summary says so."""
    await _with_a_line(shopfront)
    result = await ask(shopfront)
    ids = _ids(result)
    assert ids.count(f"cart:checkout:{shopfront.alice.id}") == 1
    assert ids.count("shop:cart") == 1
    assert "press **Checkout** below" in _summary_text(result)


@pytest.mark.parametrize("ask", REPLIES.values(), ids=REPLIES.keys())
async def test_a_reply_with_an_empty_cart_has_no_checkout_button(
    shopfront: Shopfront, ask: Ask
) -> None:
    """Nothing to pay for: no Checkout button, and the summary says the cart is empty."""
    result = await ask(shopfront)
    assert not any(i.startswith("cart:checkout:") for i in _ids(result))
    assert _summary_text(result).startswith("Empty")


async def test_the_cart_view_gets_no_second_checkout_or_view_cart(shopfront: Shopfront) -> None:
    """/cart view already is the cart and has its Checkout: nothing is added to it."""
    await _with_a_line(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "cart", "view")
    ids = _ids(result)
    assert ids.count(f"cart:checkout:{shopfront.alice.id}") == 1
    assert "shop:cart" not in ids


async def test_checkout_pressed_on_the_shop_reply_gives_the_pay_link(
    shopfront: Shopfront,
) -> None:
    """From /shop, one press: the order and its Pay link."""
    await _with_a_line(shopfront)
    browse = await shopfront.harness.slash(shopfront.alice, "shop")
    result = await shopfront.harness.press(
        shopfront.alice, browse, f"cart:checkout:{shopfront.alice.id}"
    )
    assert result.embed["title"].startswith("Order #")
    assert any(c.get("url") for row in result.components for c in row["components"])


def _summary() -> CartSummary:
    usd = Money(300, "USD")
    line = CartLine(1, "paid-1m", "Paid, 1 month", "1 month", 1, usd, 7, False, None, 7)
    return CartSummary(member_id=7, lines=(line,), total=usd, version=1)


def _full_rows(rows: int) -> discord.ui.View:
    menus: list[Any] = [
        select(f"test:menu:{n}", "…", [discord.SelectOption(label="a", value="a")])
        for n in range(rows)
    ]
    return view(*menus)


async def test_a_view_with_no_room_is_left_as_it_is_and_the_summary_says_use_checkout() -> None:
    """Five full rows: nothing is added (Discord would refuse a sixth), and the summary
    points to /checkout instead of a button that is not there."""
    built = _full_rows(5)
    result, has_checkout = with_cart_row(built, _summary())
    assert result is built and len(built.children) == 5 and not has_checkout
    embed = with_cart(discord.Embed(), _summary(), locale="en_US", checkout_button=has_checkout)
    assert embed.fields[0].value is not None and embed.fields[0].value.endswith("use /checkout")
    assert "**Checkout**" not in embed.fields[0].value


async def test_a_view_with_one_free_row_gets_both_buttons_there() -> None:
    """Four full rows: Checkout and View cart share the fifth."""
    result, has_checkout = with_cart_row(_full_rows(4), _summary())
    assert result is not None and has_checkout
    ids = [str(getattr(item, "custom_id", "")) for item in result.children]
    assert ids[-2:] == ["cart:checkout:7", "shop:cart"]
    assert len(result.to_components()) == 5
