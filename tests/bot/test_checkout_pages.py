"""The checkout summary of a cart at the line limit, with the longest notes, in pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

LONG_NOTES = {"gift_note_max": 1000, "cart_line_limit": 25}


async def _full_cart(shopfront: Shopfront) -> None:
    """25 gift lines for bob, each with its own 1,000-character note."""
    carts = shopfront.bot.shop.carts
    for number in range(25):
        note = f"{number:02d} " + "*_`<@1>` long note " * 60
        await carts.add(
            shopfront.guild_id,
            shopfront.alice.id,
            "points-100",
            recipient_id=shopfront.bob.id,
            note=note[:1000],
        )


def _ids(result: Any) -> list[str]:
    return [
        c["custom_id"] for row in result.components for c in row["components"] if "custom_id" in c
    ]


def _next(result: Any) -> dict[str, Any] | None:
    found = [
        c for row in result.components for c in row["components"] if c.get("label") == "Next ▶"
    ]
    return found[0] if found else None


def _lines(result: Any) -> list[str]:
    return [f["name"] for f in result.embed["fields"] if " × " in f["name"]]


@pytest.mark.parametrize("shopfront", [LONG_NOTES], indirect=True)
async def test_a_full_cart_with_the_longest_notes_checks_out(shopfront: Shopfront) -> None:
    """The reply fits Discord (the harness checks) and carries the Pay link."""
    await _full_cart(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert result.embed["title"].startswith("Order #")
    assert any(c.get("url") for row in result.components for c in row["components"])


@pytest.mark.parametrize("shopfront", [LONG_NOTES], indirect=True)
async def test_every_page_of_the_order_is_reachable(shopfront: Shopfront) -> None:
    """Next ▶ walks the pages; together they show all 25 lines, each once."""
    await _full_cart(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    seen = _lines(result)
    pages = 1
    while (button := _next(result)) is not None and not button.get("disabled"):
        result = await shopfront.harness.press(shopfront.alice, result, button["custom_id"])
        seen += _lines(result)
        pages += 1
    assert pages > 1
    assert len(seen) == 25
    assert result.embed["footer"]["text"] == f"Page {pages} of {pages}"


@pytest.mark.parametrize("shopfront", [LONG_NOTES], indirect=True)
async def test_the_totals_and_pay_link_are_on_every_page(shopfront: Shopfront) -> None:
    """ "To pay" and the Pay link travel with each page."""
    await _full_cart(shopfront)
    first = await shopfront.harness.slash(shopfront.alice, "checkout")
    button = _next(first)
    assert button is not None
    second = await shopfront.harness.press(shopfront.alice, first, button["custom_id"])
    for result in (first, second):
        assert any(f["name"] == "To pay" for f in result.embed["fields"])
        assert any(c.get("url") for row in result.components for c in row["components"])


@pytest.mark.parametrize("shopfront", [LONG_NOTES], indirect=True)
async def test_paging_edits_the_summary_in_place(shopfront: Shopfront) -> None:
    """◀ ▶ change the message they sit on rather than sending another."""
    await _full_cart(shopfront)
    first = await shopfront.harness.slash(shopfront.alice, "checkout")
    button = _next(first)
    assert button is not None
    turned = await shopfront.harness.press(shopfront.alice, first, button["custom_id"])
    assert turned.callback_type == 7  # UPDATE_MESSAGE


async def test_another_members_order_page_is_not_shown(shopfront: Shopfront) -> None:
    """A page button naming someone else's order finds nothing."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    await shopfront.harness.slash(shopfront.alice, "checkout")
    (order,) = await shopfront.bot.shop.orders.recent(shopfront.guild_id, shopfront.alice.id)
    custom_id = f"checkout:page:{shopfront.bob.id}:{order.id}:0"
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}]}
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"), components=[row]
    )
    result = await shopfront.harness.press(shopfront.bob, message, custom_id)
    assert result.embed["description"] == "No such order."


async def test_a_short_order_has_no_page_buttons(shopfront: Shopfront) -> None:
    """One page: the Pay link alone."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert not [i for i in _ids(result) if i.startswith("checkout:page:")]
