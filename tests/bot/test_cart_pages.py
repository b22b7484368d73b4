"""A cart too long for one message is shown a page at a time, through the harness.

The fullest cart there is: `cart_line_limit` (25) gift lines, each with a note of
`gift_note_max` (1,000) characters full of markdown the renderer must escape. Every
reply is checked by the harness against Discord's description and limits.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing import InteractionResult
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

LONGEST_NOTES = pytest.mark.parametrize(
    "shopfront",
    [{"gift_note_max": 1000, "cart_line_limit": 25}],
    indirect=True,
    ids=["notes-1000"],
)
LINES = 25


async def _fill(shopfront: Shopfront, lines: int = LINES) -> None:
    """`lines` gift lines for bob, each with its own 1,000-character note (set up through
    the cart service; the behaviour under test is the bot's)."""
    shop, guild, alice = shopfront.bot.shop, shopfront.guild_id, shopfront.alice
    skus = ["points-100", "points-500", "paid-1m"]
    for index in range(lines):
        note = f"{index:02d} " + ("*_~`|>#" * 143)[:997]  # 1,000 characters, escaped
        await shop.carts.add(
            guild,
            alice.id,
            skus[index % len(skus)],
            recipient_id=shopfront.bob.id,
            anonymous=index % 2 == 1,
            note=note,
        )


def _field_names(result: InteractionResult) -> list[str]:
    return [field["name"] for field in result.embed["fields"]]


def _line_names(result: InteractionResult) -> list[str]:
    return [name for name in _field_names(result) if name[0].isdigit()]


def _pages(result: InteractionResult) -> tuple[int, int]:
    """(page, of) from the footer "Page 2 of 3"."""
    words = result.embed["footer"]["text"].split()
    return int(words[1]), int(words[3])


def _component(result: InteractionResult, prefix: str) -> dict[str, Any]:
    assert result.final is not None
    return next(
        c for c in result.final.iter_components() if c.get("custom_id", "").startswith(prefix)
    )


def _next_id(result: InteractionResult, owner: int) -> str:
    buttons = [
        c
        for c in result.final.iter_components()  # type: ignore[union-attr]
        if c.get("custom_id", "").startswith(f"cart:page:{owner}:") and c.get("label") == "Next ▶"
    ]
    return str(buttons[0]["custom_id"])


@LONGEST_NOTES
async def test_a_full_cart_with_the_longest_notes_opens_on_page_one_with_the_total(
    shopfront: Shopfront,
) -> None:
    """/cart view of 25 long gift lines: page 1 of several, the Total, ◀ disabled, ▶."""
    await _fill(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "cart", "view")
    page, pages = _pages(result)
    assert page == 1 and pages > 1
    assert _line_names(result)[0].startswith("1. ")
    assert "Total" in _field_names(result) and "🛒 Your cart" in _field_names(result)
    alice = shopfront.alice.id
    back = _component(result, f"cart:page:{alice}:-1")
    assert back["disabled"] is True
    assert _next_id(result, alice) == f"cart:page:{alice}:1"


@LONGEST_NOTES
async def test_paging_forward_shows_every_line_once_then_back_returns(
    shopfront: Shopfront,
) -> None:
    """▶ to the end lists lines 1 to 25 exactly once, in order, editing the same message;
    ◀ comes back to the page before."""
    await _fill(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    result = await h.slash(alice, "cart", "view")
    message_id = result.original_message_id
    seen = _line_names(result)
    _, pages = _pages(result)
    for expected in range(2, pages + 1):
        result = await h.press(alice, result, _next_id(result, alice.id))
        assert result.callback_type == 7 and result.last_message_id == message_id
        assert _pages(result) == (expected, pages)
        assert "Total" in _field_names(result)
        seen += _line_names(result)
    assert [int(name.split(".")[0]) for name in seen] == list(range(1, LINES + 1))
    assert _component(result, f"cart:page:{alice.id}:{pages}")["disabled"] is True
    back = await h.press(alice, result, f"cart:page:{alice.id}:{pages - 2}")
    assert _pages(back) == (pages - 1, pages)


@LONGEST_NOTES
async def test_the_remove_menu_lists_the_lines_of_its_page_only(shopfront: Shopfront) -> None:
    """Page 2's remove menu offers page 2's lines, numbered as the embed numbers them."""
    await _fill(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    first = await h.slash(alice, "cart", "view")
    second = await h.press(alice, first, _next_id(first, alice.id))
    menu = _component(second, f"cart:remove:{alice.id}:1")
    labels = [option["label"].split(".")[0] for option in menu["options"]]
    assert labels == [name.split(".")[0] for name in _line_names(second)]
    assert len(menu["options"]) <= 25


@LONGEST_NOTES
async def test_removing_a_line_on_a_later_page_stays_on_that_page(shopfront: Shopfront) -> None:
    """Removing from page 2 answers with page 2 again, one line fewer in the cart."""
    await _fill(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    first = await h.slash(alice, "cart", "view")
    second = await h.press(alice, first, _next_id(first, alice.id))
    menu = _component(second, f"cart:remove:{alice.id}:1")
    removed = await h.select(alice, second, menu["custom_id"], [menu["options"][0]["value"]])
    assert removed.callback_type == 7
    assert _pages(removed)[0] == 2
    cart = await shopfront.bot.shop.carts.view(shopfront.guild_id, alice.id)
    assert len(cart.lines) == LINES - 1


@LONGEST_NOTES
async def test_removing_from_a_page_that_no_longer_exists_shows_the_last_page(
    shopfront: Shopfront,
) -> None:
    """A page-3 remove menu, after the cart shrank to one page, answers with that page."""
    await _fill(shopfront, lines=1)
    h, alice = shopfront.harness, shopfront.alice
    cart = await shopfront.bot.shop.carts.view(shopfront.guild_id, alice.id)
    [line] = cart.lines
    await shopfront.bot.shop.carts.add(shopfront.guild_id, alice.id, "paid-1m")
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"),
        components=[{"type": 1, "components": [_stale_menu(alice.id, line.id)]}],
    )
    removed = await h.select(alice, message, f"cart:remove:{alice.id}:2", [str(line.id)])
    assert removed.embed["title"] == "Your cart" and "footer" not in removed.embed
    assert [name.split(". ", 1)[1] for name in _line_names(removed)] == [
        "Paid account, 1 month × 1"
    ]


def _stale_menu(owner: int, line_id: int) -> dict[str, Any]:
    return {
        "type": 3,
        "custom_id": f"cart:remove:{owner}:2",
        "options": [{"label": "line", "value": str(line_id)}],
    }


@LONGEST_NOTES
async def test_a_forged_page_number_shows_the_nearest_end(shopfront: Shopfront) -> None:
    """cart:page with 99 shows the last page; with -5 the first."""
    await _fill(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    first = await h.slash(alice, "cart", "view")
    _, pages = _pages(first)
    for forged, shown in ((99, pages), (-5, 1)):
        message = shopfront.world.post_message(
            shopfront.world.guild.channel("general"),
            components=[
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 2,
                            "style": 2,
                            "label": "?",
                            "custom_id": f"cart:page:{alice.id}:{forged}",
                        }
                    ],
                }
            ],
        )
        result = await h.press(alice, message, f"cart:page:{alice.id}:{forged}")
        assert _pages(result)[0] == shown


@LONGEST_NOTES
async def test_another_members_page_button_is_refused(shopfront: Shopfront) -> None:
    """Bob pressing alice's ▶ gets a refusal, not her cart."""
    await _fill(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    first = await h.slash(alice, "cart", "view")
    custom_id = _next_id(first, alice.id)
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"),
        components=[
            {
                "type": 1,
                "components": [{"type": 2, "style": 2, "label": "?", "custom_id": custom_id}],
            }
        ],
    )
    result = await h.press(shopfront.bob, message, custom_id)
    assert result.embed["title"] == "Can't do that"
    assert "another member's cart" in result.embed["description"]


@LONGEST_NOTES
async def test_checkout_at_the_line_limit_with_the_longest_notes_answers(
    shopfront: Shopfront,
) -> None:
    """/checkout of 25 lines with 1,000-character notes: an order and its Pay link, in a
    reply Discord accepts (the harness fails the test on any limit or schema violation)."""
    await _fill(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert result.embed["title"].startswith("Order #")
    urls = [c.get("url") for row in result.components for c in row["components"] if c.get("url")]
    assert len(urls) == 1
