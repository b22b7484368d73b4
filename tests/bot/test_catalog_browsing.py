"""Any catalog fits /shop: pages of at most 25 items of one kind, a kind picker, and
"nothing for sale yet" for none; /item autocomplete finds items by name or code."""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing import InteractionResult
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


def _membership(index: int) -> dict[str, Any]:
    return {
        "sku": f"m-{index:03d}",
        "name": f"Membership plan number {index:03d} with a long descriptive name"[:80],
        "price": 100 + index,
        "kind": "membership",
        "tier": "paid",
        "days": index + 1,
    }


def _points(index: int) -> dict[str, Any]:
    return {
        "sku": f"p-{index:03d}",
        "name": f"Bundle of {index + 1} points",
        "price": 50 + index,
        "kind": "points",
        "points": index + 1,
    }


#: 60 memberships (three pages: 25, 25, 10) then 3 points bundles (one page).
BIG = [_membership(i) for i in range(60)] + [_points(i) for i in range(3)]
BIG_CATALOG = pytest.mark.parametrize("shopfront", [{"items": BIG}], indirect=True, ids=["63"])
ONE_PAGE = pytest.mark.parametrize("shopfront", [{"items": BIG[-2:]}], indirect=True, ids=["2"])
EMPTY_CATALOG = pytest.mark.parametrize("shopfront", [{"items": []}], indirect=True, ids=["0"])


def _ids(result: InteractionResult) -> list[str]:
    assert result.final is not None
    return [str(c["custom_id"]) for c in result.final.iter_components() if "custom_id" in c]


def _menu(result: InteractionResult, custom_id: str) -> dict[str, Any]:
    assert result.final is not None
    found = result.final.find_component(custom_id)
    assert found is not None, _ids(result)
    return found


def _next(result: InteractionResult) -> str | None:
    assert result.final is not None
    for component in result.final.iter_components():
        if component.get("label") == "Next ▶" and not component.get("disabled"):
            return str(component["custom_id"])
    return None


@BIG_CATALOG
async def test_shop_pages_hold_at_most_25_items_of_one_kind_and_reach_every_item(
    shopfront: Shopfront,
) -> None:
    """▶ from the first page to the last offers each of the 63 items exactly once, never
    more than 25 in a menu, never two kinds on one page."""
    h, alice = shopfront.harness, shopfront.alice
    result = await h.slash(alice, "shop")
    offered: list[str] = []
    footers: list[str] = []
    while True:
        options = _menu(result, "shop:pick")["options"]
        assert 1 <= len(options) <= 25
        assert len({option["value"][0] for option in options}) == 1  # one kind per page
        offered += [option["value"] for option in options]
        footers.append(result.embed["footer"]["text"])
        custom_id = _next(result)
        if custom_id is None:
            break
        result = await h.press(alice, result, custom_id)
        assert result.callback_type == 7  # the same message, edited
    assert offered == [item["sku"] for item in BIG]
    assert footers == [
        "Memberships · page 1 of 4",
        "Memberships · page 2 of 4",
        "Memberships · page 3 of 4",
        "Points · page 4 of 4",
    ]


@BIG_CATALOG
async def test_a_shop_page_lists_its_items_with_prices_in_the_embed(shopfront: Shopfront) -> None:
    """The embed lists the page's items and prices (the ones its menu offers)."""
    result = await shopfront.harness.slash(shopfront.alice, "shop")
    description = result.embed["description"]
    assert "**Membership plan number 000" in description and "$1.00" in description
    assert "Membership plan number 025" not in description  # on page 2


@BIG_CATALOG
async def test_the_kind_picker_jumps_to_the_first_page_of_that_kind(shopfront: Shopfront) -> None:
    """Choosing Points in the kind menu shows the points page, in place, Points selected."""
    h, alice = shopfront.harness, shopfront.alice
    browse = await h.slash(alice, "shop")
    kinds = _menu(browse, "shop:kind")
    assert [(o["label"], o.get("default", False)) for o in kinds["options"]] == [
        ("Memberships", True),
        ("Points", False),
    ]
    result = await h.select(alice, browse, "shop:kind", ["points"])
    assert result.callback_type == 7
    assert [o["value"] for o in _menu(result, "shop:pick")["options"]] == [
        "p-000",
        "p-001",
        "p-002",
    ]
    assert result.embed["footer"]["text"] == "Points · page 4 of 4"


@BIG_CATALOG
async def test_picking_an_item_on_a_later_page_opens_it(shopfront: Shopfront) -> None:
    """An item from page 3's menu opens with its Add button."""
    h, alice = shopfront.harness, shopfront.alice
    result = await h.slash(alice, "shop")
    for _ in range(2):
        result = await h.press(alice, result, str(_next(result)))
    item = await h.select(alice, result, "shop:pick", ["m-055"])
    assert item.embed["footer"]["text"] == "Item code: m-055"
    assert "shop:add:m-055" in _ids(item)


@BIG_CATALOG
async def test_a_forged_shop_page_shows_the_last_page(shopfront: Shopfront) -> None:
    """shop:page:999 shows the last page rather than failing."""
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"),
        components=[
            {
                "type": 1,
                "components": [{"type": 2, "style": 2, "label": "?", "custom_id": "shop:page:999"}],
            }
        ],
    )
    result = await shopfront.harness.press(shopfront.alice, message, "shop:page:999")
    assert result.embed["footer"]["text"] == "Points · page 4 of 4"
    assert result.callback_type == 4  # a public message is not edited: an answer of her own


@ONE_PAGE
async def test_a_one_page_shop_of_one_kind_has_no_page_buttons_or_kind_menu(
    shopfront: Shopfront,
) -> None:
    """Two points bundles: their menu and View cart, nothing else, and no page footer."""
    result = await shopfront.harness.slash(shopfront.alice, "shop")
    assert _ids(result) == ["shop:pick", "shop:cart"]
    assert result.embed["footer"]["text"] == "Points"


@EMPTY_CATALOG
async def test_an_empty_catalog_says_nothing_is_for_sale_with_no_menu(
    shopfront: Shopfront,
) -> None:
    """/shop with no items: "Nothing for sale yet", and no select for Discord to refuse."""
    result = await shopfront.harness.slash(shopfront.alice, "shop")
    assert "nothing for sale yet" in result.embed["description"].lower()
    assert result.final is not None
    assert all(c.get("type") != 3 for c in result.final.iter_components())
    assert _ids(result) == ["shop:cart"]


@BIG_CATALOG
async def test_item_autocomplete_matches_the_code_in_any_case(shopfront: Shopfront) -> None:
    """Typing "P-00" offers the points bundles by their codes."""
    found = await shopfront.harness.autocomplete(
        shopfront.alice, "item", focused="item", item="P-00"
    )
    assert [choice["value"] for choice in found.choices or []] == ["p-000", "p-001", "p-002"]


@BIG_CATALOG
async def test_item_autocomplete_puts_names_starting_with_the_text_first(
    shopfront: Shopfront,
) -> None:
    """ "bundle" starts the points bundles' names: they come before names merely holding it,
    and no more than 25 choices are offered."""
    h = shopfront.harness
    found = await h.autocomplete(shopfront.alice, "item", focused="item", item="bundle")
    assert [c["value"] for c in found.choices or []] == ["p-000", "p-001", "p-002"]
    many = await h.autocomplete(shopfront.alice, "item", focused="item", item="NUMBER 0")
    values = [c["value"] for c in many.choices or []]
    assert len(values) == 25 and values[0] == "m-000"


async def test_cart_add_autocomplete_ranks_names_starting_with_the_text_first(
    shopfront: Shopfront,
) -> None:
    """ "1": "100 points" and "1000 points" start with it and come first; names that only
    hold it ("Paid account, 1 month") follow."""
    found = await shopfront.harness.autocomplete(
        shopfront.alice, "cart", "add", focused="item", item="1"
    )
    values = [c["value"] for c in found.choices or []]
    assert values[:2] == ["points-100", "points-1000"]
    assert "paid-1m" in values[2:]
