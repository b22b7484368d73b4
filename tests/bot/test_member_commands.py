"""Member commands and components through discord.py's real dispatch, offline."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.testing import check_tree
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


def _field(embed: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


def _custom_ids(result: Any) -> list[str]:
    return [
        component.get("custom_id", component.get("url", ""))
        for row in result.components
        for component in row["components"]
    ]


async def test_command_payloads_pass_discords_checks(shopfront: Shopfront) -> None:
    """Every command the bot would sync is one Discord accepts: the harness's limits, and
    the schema of the registration route when it is synced."""
    assert check_tree(shopfront.bot.tree) == []
    await shopfront.bot.tree.sync(guild=discord.Object(shopfront.guild_id))
    names = {command.name for command in shopfront.bot.tree.get_commands()}
    assert names == {"shop", "item", "cart", "checkout", "account", "shopadmin"}


async def test_shop_lists_items_by_kind_with_the_cart_summary(shopfront: Shopfront) -> None:
    """/shop answers privately with the first kind's items, a kind picker, an item picker
    and the cart line."""
    result = await shopfront.harness.slash(shopfront.alice, "shop")
    assert result.callback_type == 4 and result.ephemeral
    assert [f["name"] for f in result.embed["fields"]] == ["🛒 Your cart"]
    assert "Paid account, 1 month" in result.embed["description"]
    assert result.embed["footer"]["text"] == "Memberships · page 1 of 2"
    assert _field(result.embed, "🛒 Your cart").startswith("Empty")
    assert _custom_ids(result) == [
        "shop:kind",
        "shop:pick",
        "shop:page:-1",
        "shop:page:1",
        "shop:cart",
    ]


async def test_picking_an_item_shows_its_details(shopfront: Shopfront) -> None:
    """The select opens the item with Add, Gift and View cart."""
    browse = await shopfront.harness.slash(shopfront.alice, "shop")
    result = await shopfront.harness.select(shopfront.alice, browse, "shop:pick", ["paid-1m"])
    assert result.embed["title"].startswith("Paid")
    assert _custom_ids(result) == ["shop:add:paid-1m", "shop:gift:paid-1m", "shop:cart"]


async def test_item_command_autocompletes_and_refuses_unknown_items(shopfront: Shopfront) -> None:
    """Autocomplete offers matching items; an unknown code is a clear refusal."""
    choices = await shopfront.harness.autocomplete(
        shopfront.alice, "item", focused="item", item="poin"
    )
    assert {choice["value"] for choice in choices.choices} == {
        "points-100",
        "points-500",
        "points-1000",
    }
    result = await shopfront.harness.slash(shopfront.alice, "item", item="nope")
    assert (
        result.embed["title"] == "Can't do that" and "no item called" in result.embed["description"]
    )
    assert result.ephemeral and "🛒 Your cart" in [f["name"] for f in result.embed["fields"]]


async def test_add_button_puts_the_item_in_the_cart(shopfront: Shopfront) -> None:
    """Pressing Add twice makes quantity two, shown in the summary."""
    item = await shopfront.harness.slash(shopfront.alice, "item", item="paid-1m")
    await shopfront.harness.press(shopfront.alice, item, "shop:add:paid-1m")
    result = await shopfront.harness.press(shopfront.alice, item, "shop:add:paid-1m")
    assert result.embed["title"] == "Added to your cart"
    assert _field(result.embed, "🛒 Your cart").startswith("2 items · $6.00")


async def test_cart_add_with_options_makes_a_gift(shopfront: Shopfront) -> None:
    """/cart add item quantity for anonymous note records the gift."""
    await shopfront.harness.slash(
        shopfront.alice,
        "cart",
        "add",
        options={
            "item": "points-100",
            "quantity": 2,
            "for": shopfront.bob,
            "anonymous": True,
            "note": "have fun @everyone",
        },
    )
    result = await shopfront.harness.slash(shopfront.alice, "cart", "view")
    line = result.embed["fields"][0]["value"]
    assert f"Gift for <@{shopfront.bob.id}> (anonymous)" in line
    assert "@\u200beveryone" in line  # shown, never a ping


async def test_gifts_to_bots_are_refused(shopfront: Shopfront) -> None:
    """A bot can't receive a gift, and the cart stays empty."""
    result = await shopfront.harness.slash(
        shopfront.alice, "cart", "add", options={"item": "points-100", "for": shopfront.helper_bot}
    )
    assert "Bots can't receive gifts" in result.embed["description"]
    assert (await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.alice.id)).is_empty


async def test_gift_by_buttons_select_and_modal(shopfront: Shopfront) -> None:
    """Gift… → choose a member → anonymous → note: the line is an anonymous gift with the note."""
    item = await shopfront.harness.slash(shopfront.alice, "item", item="points-500")
    ask = await shopfront.harness.press(shopfront.alice, item, "shop:gift:points-500")
    chosen = await shopfront.harness.select(
        shopfront.alice, ask, "gift:to:points-500", [shopfront.bob]
    )
    modal = await shopfront.harness.press(
        shopfront.alice, chosen, f"gift:note:points-500:{shopfront.bob.id}:1"
    )
    assert modal.callback_type == 9
    added = await shopfront.harness.submit_modal(shopfront.alice, modal, {"note": "thank you!"})
    assert added.embed["title"] == "Added to your cart"
    cart = await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.alice.id)
    [line] = cart.lines
    assert (line.recipient_id, line.anonymous, line.note) == (shopfront.bob.id, True, "thank you!")


async def test_removing_a_line_edits_the_cart_message(shopfront: Shopfront) -> None:
    """The remove select takes the line out and updates the same message."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "points-100"})
    cart = await shopfront.harness.slash(shopfront.alice, "cart", "view")
    summary = await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.alice.id)
    result = await shopfront.harness.select(
        shopfront.alice, cart, f"cart:remove:{shopfront.alice.id}:0", [str(summary.lines[0].id)]
    )
    assert result.callback_type == 7
    assert _field(result.embed, "🛒 Your cart").startswith("1 item · $10.00")


async def test_remove_command_autocompletes_lines(shopfront: Shopfront) -> None:
    """/cart remove offers the member's own lines, and removes the chosen one."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    choices = await shopfront.harness.autocomplete(
        shopfront.alice, "cart", "remove", focused="line", line=""
    )
    [choice] = choices.choices
    result = await shopfront.harness.slash(shopfront.alice, "cart", "remove", line=choice["value"])
    assert _field(result.embed, "🛒 Your cart").startswith("Empty")


async def test_forged_custom_id_cannot_touch_another_members_cart(shopfront: Shopfront) -> None:
    """Alice pressing a button minted for Bob's cart changes nothing."""
    await shopfront.harness.slash(shopfront.bob, "cart", "add", options={"item": "paid-1m"})
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"),
        components=_button_row(f"cart:clear:{shopfront.bob.id}"),
    )
    result = await shopfront.harness.press(
        shopfront.alice, message, f"cart:clear:{shopfront.bob.id}"
    )
    assert "another member's cart" in result.embed["description"] and result.ephemeral
    assert not (await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.bob.id)).is_empty


@pytest.mark.parametrize("custom_id", ["garbage", "cart:clear", "shop:add:a:b", "gift:note:x:y:z"])
async def test_malformed_or_stale_custom_ids_get_a_clear_answer(
    shopfront: Shopfront, custom_id: str
) -> None:
    """Never "This interaction failed": an ephemeral explanation."""
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"), "", components=_button_row(custom_id)
    )
    result = await shopfront.harness.press(shopfront.alice, message, custom_id)
    assert result.ephemeral and result.embed["title"] == "Can't do that"


async def test_checkout_defers_then_links_the_hosted_page(shopfront: Shopfront) -> None:
    """Checkout acknowledges first, then shows the order and a Pay link."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert result.callback_type == 5 and result.ephemeral
    assert result.embed["title"].startswith("Order #")
    [pay] = [c for row in result.components for c in row["components"]]
    assert pay["style"] == 5 and pay["url"].startswith(f"{shopfront.url}/fake-gateway/checkout/")


async def test_checkout_of_an_empty_cart_is_refused(shopfront: Shopfront) -> None:
    """Nothing to pay for: a clear answer after the defer."""
    result = await shopfront.harness.slash(shopfront.alice, "checkout")
    assert "cart is empty" in result.embed["description"]


async def test_points_pay_for_the_whole_order(shopfront: Shopfront) -> None:
    """With enough points the order is paid at once, no gateway."""
    await shopfront.bot.shop.grants.grant_points(
        shopfront.guild_id, 1, shopfront.alice.id, 1000, "gift"
    )
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(shopfront.alice, "checkout", use_points=True)
    assert "paid with points" in result.embed["title"]
    await shopfront.effects_delivered()
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles


async def test_account_shows_points_memberships_and_orders(shopfront: Shopfront) -> None:
    """/account explains the balance and history."""
    await shopfront.bot.shop.grants.grant_points(
        shopfront.guild_id, 1, shopfront.alice.id, 40, "hi"
    )
    result = await shopfront.harness.slash(shopfront.alice, "account")
    assert _field(result.embed, "Points") == "40"
    assert "+40 points — granted by a moderator" in _field(result.embed, "Recent changes")


def _button_row(custom_id: str) -> list[dict[str, Any]]:
    return [
        {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}]}
    ]


async def test_two_members_gifting_the_same_thing_both_get_their_dialog(
    shopfront: Shopfront,
) -> None:
    """Gift dialogs carry their state in the custom_id: both submits are answered."""
    results = []
    for member in (shopfront.alice, shopfront.mod):
        message = shopfront.world.post_message(
            shopfront.world.guild.channel("general"),
            components=_button_row(f"gift:note:points-100:{shopfront.bob.id}:0"),
        )
        results.append(
            await shopfront.harness.press(
                member, message, f"gift:note:points-100:{shopfront.bob.id}:0"
            )
        )
    for member, opened in zip((shopfront.alice, shopfront.mod), results, strict=True):
        added = await shopfront.harness.submit_modal(member, opened, {"note": "hi"})
        assert added.embed["title"] == "Added to your cart"
    for member in (shopfront.alice, shopfront.mod):
        cart = await shopfront.bot.shop.carts.view(shopfront.guild_id, member.id)
        assert [(line.recipient_id, line.note) for line in cart.lines] == [(shopfront.bob.id, "hi")]
