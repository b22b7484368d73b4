"""/shopadmin catalog add|edit|retire|list through the offline harness, both databases."""

from __future__ import annotations

import dataclasses

import pytest

from bot.testing import InteractionResult
from tests.bot.conftest import Shopfront
from tests.store.helpers import snapshot

pytestmark = pytest.mark.asyncio

WEEKLY = {
    "sku": "paid-1w",
    "name": "Paid account, 1 week",
    "price": "1.50",
    "description": "Seven days of Paid.",
    "options": 'tier = "paid"\ndays = 7',
}


async def open_add(shopfront: Shopfront, kind: str = "membership") -> InteractionResult:
    return await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "add", options={"kind": kind}
    )


async def add_weekly(shopfront: Shopfront, **changes: str) -> InteractionResult:
    form = await open_add(shopfront)
    return await shopfront.harness.submit_modal(shopfront.mod, form, {**WEEKLY, **changes})


async def edit(shopfront: Shopfront, sku: str, **values: str) -> InteractionResult:
    form = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "edit", options={"item": sku}
    )
    return await shopfront.harness.submit_modal(shopfront.mod, form, values)


async def shop_listing(shopfront: Shopfront) -> str:
    """What a member reads on /shop's first page (the membership items)."""
    return str((await shopfront.harness.slash(shopfront.bob, "shop")).embed["description"])


async def pay(shopfront: Shopfront, checkout: InteractionResult) -> None:
    [button] = [c for row in checkout.components for c in row["components"] if "url" in c]
    session_id = button["url"].rsplit("/", 1)[1]
    await shopfront.http.post(f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay")
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()


async def test_an_added_item_is_in_the_shop_at_once(shopfront: Shopfront) -> None:
    """The moderator fills the form; /shop lists the item with its price."""
    done = await add_weekly(shopfront)
    assert done.embed["title"] == "Done" and done.ephemeral
    assert "Paid account, 1 week" in done.embed["description"]
    assert "**Paid account, 1 week** — $1.50" in await shop_listing(shopfront)


async def test_the_add_form_asks_for_sku_name_price_description_options(
    shopfront: Shopfront,
) -> None:
    form = await open_add(shopfront)
    assert form.modal is not None and form.modal["custom_id"] == "catalog:add:membership"
    inputs = [c["custom_id"] for row in form.modal["components"] for c in row["components"]]
    assert inputs == ["sku", "name", "price", "description", "options"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"options": 'tier = "gold"\ndays = 7'}, "tier 'gold' is not a configured membership"),
        ({"options": "tier = paid\ndays 7"}, "Options line 2 (days 7): write it as key = value"),
        ({"options": 'tier = "paid"'}, "set months or days, or permanent = true"),
        ({"price": "1.505"}, "USD prices have 2 decimal places"),
        ({"price": "0"}, "The price must be more than zero."),
        ({"sku": "Paid Week"}, "SKU: use 1 to 40 lower-case letters"),
        ({"sku": "paid-1m"}, "already has an item with the SKU 'paid-1m'"),
    ],
)
async def test_a_bad_form_is_refused_and_nothing_is_stored(
    shopfront: Shopfront, changes: dict[str, str], message: str
) -> None:
    before = await snapshot(shopfront.bot.shop.ctx.db)
    refused = await add_weekly(shopfront, **changes)
    assert refused.embed["title"] == "Can't do that"
    assert message in refused.embed["description"]
    assert await snapshot(shopfront.bot.shop.ctx.db) == before
    assert shopfront.audit_posts() == []


async def test_a_member_gets_no_form(shopfront: Shopfront) -> None:
    """Refused before the modal: the member never sees the form."""
    result = await shopfront.harness.slash(
        shopfront.alice, "shopadmin", "catalog", "add", options={"kind": "points"}
    )
    assert result.modal is None
    assert result.embed["description"] == "Only the shop's moderators can do that."


async def test_a_forged_submit_is_refused(shopfront: Shopfront) -> None:
    """A member posting the form's submit without being a moderator changes nothing."""
    form = await open_add(shopfront)
    forged = dataclasses.replace(form, user_id=shopfront.alice.id)
    result = await shopfront.harness.submit_modal(shopfront.alice, forged, WEEKLY)
    assert result.embed["description"] == "Only the shop's moderators can do that."
    assert "Paid account, 1 week" not in await shop_listing(shopfront)


async def test_a_change_is_audited_with_before_and_after(shopfront: Shopfront) -> None:
    await add_weekly(shopfront)
    await edit(shopfront, "paid-1w", price="2.00")
    added, edited = shopfront.audit_posts()
    fields = {f["name"]: f["value"] for f in edited["fields"]}
    assert fields["Who"] == f"<@{shopfront.mod.id}>"
    assert fields["What"] == "edited item paid-1w"
    assert "price: 150" in fields["Before"] and "price: 200" in fields["After"]
    assert {f["name"]: f["value"] for f in added["fields"]}["Before"] == "—"


async def test_the_edit_form_is_prefilled(shopfront: Shopfront) -> None:
    """Name, price in the shop's way of writing it, options as key = value; no SKU."""
    form = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"}
    )
    assert form.modal is not None and form.modal["custom_id"].startswith("catalog:edit:paid-1m:")
    values = {
        c["custom_id"]: c.get("value")
        for row in form.modal["components"]
        for c in row["components"]
    }
    assert values["name"] == "Paid account, 1 month" and values["price"] == "3.00"
    assert values["options"] == 'tier = "paid"\nmonths = 1' and "sku" not in values


async def test_a_new_price_shows_and_an_order_keeps_the_old_one(shopfront: Shopfront) -> None:
    """/shop shows the new price; the order, its receipt and its refund keep the old."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    await pay(shopfront, await h.slash(alice, "checkout"))
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    await edit(shopfront, "paid-1m", price="4.50")
    assert "**Paid account, 1 month** — $4.50" in await shop_listing(shopfront)
    again = await shopfront.bot.shop.orders.get(shopfront.guild_id, order.id)
    assert again.subtotal.amount == 300 and again.lines[0].unit_price.amount == 300
    assert any("$3.00" in str(m.embeds) for m in shopfront.world.dms(alice.id))
    await h.slash(
        shopfront.mod, "shopadmin", "refund", options={"order_id": order.id, "reason": "test"}
    )
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    refunded = await shopfront.bot.shop.orders.get(shopfront.guild_id, order.id)
    assert (refunded.state, refunded.refunded.amount) == ("refunded", 300)


async def test_a_repriced_cart_line_is_flagged_then_refused_once(shopfront: Shopfront) -> None:
    """The cart says so; checkout names the new price once, then goes through."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    await edit(shopfront, "paid-1m", price="4.50")
    cart = await h.slash(alice, "cart", "view")
    assert "Price changed: was $3.00, now $4.50" in str(cart.embed["fields"])
    refused = await h.slash(alice, "checkout")
    assert "Paid account, 1 month: was $3.00, now $4.50" in refused.embed["description"]
    checkout = await h.slash(alice, "checkout")
    assert any("url" in c for row in checkout.components for c in row["components"])
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    assert order.subtotal.amount == 450


async def test_a_retired_item_leaves_the_shop_and_blocks_checkout(shopfront: Shopfront) -> None:
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-2m"})
    done = await h.slash(
        shopfront.mod, "shopadmin", "catalog", "retire", options={"item": "paid-2m"}
    )
    assert done.embed["title"] == "Done"
    assert "Paid account, 2 months" not in await shop_listing(shopfront)
    cart = await h.slash(alice, "cart", "view")
    assert "No longer sold" in str(cart.embed["fields"])
    refused = await h.slash(alice, "checkout")
    assert "Paid account, 2 months is no longer sold" in refused.embed["description"]
    [post] = shopfront.audit_posts()
    assert {f["name"]: f["value"] for f in post["fields"]}["After"] == "—"


async def test_retired_items_are_not_offered_for_edit(shopfront: Shopfront) -> None:
    await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "retire", options={"item": "paid-2m"}
    )
    typed = await shopfront.harness.autocomplete(
        shopfront.mod, "shopadmin", "catalog", "edit", focused="item", item="paid"
    )
    values = [choice["value"] for choice in typed.choices or []]
    assert "paid-1m" in values and "paid-2m" not in values


async def test_the_list_shows_prices_limits_and_retired_skus(shopfront: Shopfront) -> None:
    await add_weekly(shopfront, options='tier = "paid"\ndays = 7\nstock = 5\nper_member_limit = 1')
    await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "retire", options={"item": "paid-2m"}
    )
    listed = await shopfront.harness.slash(shopfront.mod, "shopadmin", "catalog", "list")
    description = listed.embed["description"]
    assert "`paid-1w` **Paid account, 1 week** — $1.50 · membership · stock 5 (5 left)" in (
        description
    )
    assert "1 per member" in description and "`paid-2m`" not in description
    assert "`paid-2m`" in listed.embed["fields"][0]["value"]


async def test_a_form_opened_before_another_edit_saves_nothing(shopfront: Shopfront) -> None:
    """Two moderators edit one item: the later save would undo the earlier one's price."""
    h, mod = shopfront.harness, shopfront.mod
    stale = await h.slash(mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"})
    await edit(shopfront, "paid-1m", price="4.50")
    refused = await h.submit_modal(mod, stale, {"name": "Paid, one month"})
    assert "changed since this form was opened" in refused.embed["description"]
    assert "**Paid account, 1 month** — $4.50" in await shop_listing(shopfront)


async def test_a_dialog_no_cog_knows_is_answered_as_out_of_date(shopfront: Shopfront) -> None:
    """A submit whose id names no dialog of ours still gets a private answer."""
    form = await open_add(shopfront)
    assert form.modal is not None
    unknown = dataclasses.replace(form, modal={**form.modal, "custom_id": "weird:thing"})
    result = await shopfront.harness.submit_modal(shopfront.mod, unknown, WEEKLY)
    assert result.final is not None and result.final.ephemeral
    assert "out of date" in result.embed["description"]


async def test_edit_without_an_item_offers_a_menu_whose_choice_opens_the_form(
    shopfront: Shopfront,
) -> None:
    h, mod = shopfront.harness, shopfront.mod
    menu = await h.slash(mod, "shopadmin", "catalog", "edit")
    assert menu.embed["title"] == "Edit an item" and menu.ephemeral
    form = await h.select(mod, menu, "catalog:pick", ["paid-1m"])
    assert form.modal is not None and form.modal["custom_id"].startswith("catalog:edit:paid-1m:")
    done = await h.submit_modal(mod, form, {"price": "4.50"})
    assert done.embed["title"] == "Done"
    assert "**Paid account, 1 month** — $4.50" in await shop_listing(shopfront)


async def test_a_member_pressing_the_edit_menu_gets_no_form(shopfront: Shopfront) -> None:
    """A copy of the menu in a member's hands (forged): no form, a refusal."""
    menu = {
        "type": 3,
        "custom_id": "catalog:pick",
        "options": [{"label": "Paid", "value": "paid-1m"}],
    }
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"), components=[{"type": 1, "components": [menu]}]
    )
    result = await shopfront.harness.select(shopfront.alice, message, "catalog:pick", ["paid-1m"])
    assert result.modal is None
    assert result.embed["description"] == "Only the shop's moderators can do that."
