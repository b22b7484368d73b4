"""Coupons from Discord: moderators create, list and retire them; members apply one
with /cart coupon or the cart's Coupon button and pay the discounted total."""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing import InteractionResult
from store.orders import OrderState
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


async def create(shopfront: Shopfront, **options: Any) -> InteractionResult:
    return await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "coupon",
        "create",
        options={
            k: v for k, v in {"code": "save20", "percent": 20, **options}.items() if v is not None
        },
    )


def fields(result: InteractionResult) -> dict[str, str]:
    return {f["name"]: f["value"] for f in result.embed.get("fields", [])}


def custom_ids(result: InteractionResult) -> list[str]:
    return [c.get("custom_id", "") for row in result.components for c in row["components"]]


async def test_a_moderator_creates_a_coupon_and_it_is_audited(shopfront: Shopfront) -> None:
    result = await create(shopfront, max_uses=100, expires="2026-12-31", items="paid-1m")
    assert result.embed["title"] == "Coupon SAVE20 created"
    assert "until the end of 2026-12-31 (UTC)" in result.embed["description"]
    [post] = shopfront.audit_posts()
    values = {f["name"]: f["value"] for f in post["fields"]}
    assert values["Who"] == f"<@{shopfront.mod.id}>"
    assert values["What"] == "created coupon SAVE20"
    assert values["Coupon"].startswith("20% off · on Paid account, 1 month only")


async def test_a_fixed_amount_is_given_in_the_shop_currency(shopfront: Shopfront) -> None:
    result = await create(shopfront, percent=None, amount="5.00", min_order="20")
    assert result.embed["description"].startswith("$5.00 off orders of $20.00 or more")


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"percent": None}, "Give either percent or amount"),
        ({"amount": "5.00"}, "Give either percent or amount"),
        ({"percent": None, "amount": "5.001"}, "USD prices have 2 decimal places"),
        ({"items": "no-such-item"}, "The shop has no item no-such-item."),
        ({"expires": "31/12/2026"}, "write it as YYYY-MM-DD"),
        ({"code": "a!"}, "code: A coupon code is 3 to 32 characters"),
    ],
)
async def test_a_bad_create_is_refused_and_not_audited(
    shopfront: Shopfront, options: dict[str, Any], refusal: str
) -> None:
    result = await create(shopfront, **options)
    assert refusal in result.embed["description"]
    assert shopfront.audit_posts() == []
    assert await shopfront.bot.shop.coupons.list(shopfront.guild_id) == []


async def test_list_shows_uses_limits_expiry_and_retired(shopfront: Shopfront) -> None:
    await create(shopfront, max_uses=10, per_member_limit=1, expires="2026-12-31")
    await create(shopfront, code="old5", percent=5)
    retired = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "coupon", "retire", options={"code": "old5"}
    )
    assert retired.embed["title"] == "Coupon OLD5 retired"
    listed = fields(await shopfront.harness.slash(shopfront.mod, "shopadmin", "coupon", "list"))
    assert listed["Live"] == (
        "**SAVE20** — 20% off · once per member · 0 of 10 used · expires 2026-12-31"
    )
    assert listed["Retired"].startswith("**OLD5** — 5% off · 0 used · retired ")
    assert [p["fields"][1]["value"] for p in shopfront.audit_posts()] == [
        "created coupon SAVE20",
        "created coupon OLD5",
        "retired coupon OLD5",
    ]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("create", {"code": "save20", "percent": 20}),
        ("list", {}),
        ("retire", {"code": "save20"}),
    ],
)
async def test_members_are_refused_the_coupon_commands(
    shopfront: Shopfront, command: str, options: dict[str, Any]
) -> None:
    result = await shopfront.harness.slash(
        shopfront.alice, "shopadmin", "coupon", command, options=options
    )
    assert result.embed["description"] == "Only the shop's moderators can do that."
    assert shopfront.audit_posts() == []


async def test_cart_coupon_applies_and_every_reply_shows_the_discount(
    shopfront: Shopfront,
) -> None:
    await create(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 2})
    applied = await h.slash(alice, "cart", "coupon", options={"code": "save20"})
    shown = fields(applied)
    assert shown["Subtotal"] == "$6.00"
    assert shown["Coupon SAVE20"].startswith("−$1.20 · 20% off")
    assert shown["Total"] == "$4.80"
    assert f"cart:uncoupon:{alice.id}" in custom_ids(applied)
    browse = await h.slash(alice, "shop")
    assert fields(browse)["🛒 Your cart"].startswith(
        "2 items · ~~$6.00~~ $4.80 (code SAVE20: −$1.20)"
    )


async def test_a_bad_code_is_refused_and_the_cart_keeps_no_coupon(shopfront: Shopfront) -> None:
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    refused = await h.slash(alice, "cart", "coupon", options={"code": "nope1"})
    assert refused.embed["description"] == "There is no coupon NOPE1 in this shop."
    summary = await shopfront.bot.shop.carts.view(shopfront.guild_id, alice.id)
    assert summary.coupon is None


async def test_the_coupon_button_opens_a_dialog_that_applies_the_code(
    shopfront: Shopfront,
) -> None:
    await create(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-12m"})
    cart = await h.slash(alice, "cart", "view")
    dialog = await h.press(alice, cart, f"cart:coupon:{alice.id}")
    assert dialog.modal is not None and dialog.modal["custom_id"] == f"coupon:modal:{alice.id}"
    applied = await h.submit_modal(alice, dialog, {"code": "save20"})
    assert fields(applied)["Total"] == "$20.00"
    removed = await h.press(alice, applied, f"cart:uncoupon:{alice.id}")
    assert "Coupon SAVE20" not in fields(removed) and fields(removed)["Total"] == "$25.00"


async def test_checkout_through_the_fake_gateway_charges_the_discounted_total(
    shopfront: Shopfront,
) -> None:
    """2 × $3.00 less 20%: the order, the gateway's page and the payment are $4.80."""
    await create(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 2})
    cart = await h.slash(alice, "cart", "coupon", options={"code": "save20"})
    checkout = await h.press(alice, cart, f"cart:checkout:{alice.id}")
    shown = fields(checkout)
    assert (shown["Subtotal"], shown["Coupon"], shown["To pay"]) == (
        "$6.00",
        "−$1.20 (code SAVE20)",
        "$4.80",
    )
    [pay] = [c for row in checkout.components for c in row["components"] if c.get("url")]
    page = await shopfront.http.get(pay["url"])
    assert page.status == 200 and "$4.80" in await page.text()
    session_id = pay["url"].rsplit("/", 1)[1]
    paid = await shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=True
    )
    assert paid.status == 200
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    assert order.state is OrderState.FULFILLED and order.cash_due.amount == 480
    receipt = shopfront.dm_embeds(alice)[0]
    assert "Coupon SAVE20: −$1.20" in receipt["description"] + str(receipt.get("fields"))
    found = await shopfront.bot.shop.coupons.find(shopfront.guild_id, "SAVE20")
    assert found is not None and found.uses == 1


async def test_a_discount_that_does_not_divide_goes_as_one_line_of_the_line_total(
    shopfront: Shopfront,
) -> None:
    """$1.00 off 3 × $3.00 and $25.00: shares 26¢ and 74¢; $8.74 does not divide by
    three, so the gateway gets "Paid account, 1 month × 3" once at $8.74."""
    await create(shopfront, code="dollar", percent=None, amount="1.00")
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 3})
    await h.slash(alice, "cart", "add", options={"item": "paid-12m"})
    cart = await h.slash(alice, "cart", "coupon", options={"code": "dollar"})
    checkout = await h.press(alice, cart, f"cart:checkout:{alice.id}")
    assert fields(checkout)["To pay"] == "$33.00"
    [pay] = [c for row in checkout.components for c in row["components"] if c.get("url")]
    page = await (await shopfront.http.get(pay["url"])).text()
    assert "Paid account, 1 month × 3</th><td>1</td><td>$8.74</td>" in page
    assert "$24.26" in page and "$33.00" in page


async def test_the_account_shows_the_discounted_total_and_the_code(shopfront: Shopfront) -> None:
    await create(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 2})
    cart = await h.slash(alice, "cart", "coupon", options={"code": "save20"})
    await h.press(alice, cart, f"cart:checkout:{alice.id}")
    account = await h.slash(alice, "account")
    assert "— $4.80" in fields(account)["Recent orders"]
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    opened = await h.select(alice, account, f"account:order:{alice.id}", [str(order.id)])
    description = opened.embed["description"]
    assert "**Subtotal:** $6.00" in description
    assert "**Coupon:** −$1.20 (code SAVE20)" in description
    assert "**Total:** $4.80" in description


async def test_retiring_a_retired_code_says_so_and_is_not_audited_again(
    shopfront: Shopfront,
) -> None:
    await create(shopfront)
    h, mod = shopfront.harness, shopfront.mod
    await h.slash(mod, "shopadmin", "coupon", "retire", options={"code": "save20"})
    posts = len(shopfront.audit_posts())
    again = await h.slash(mod, "shopadmin", "coupon", "retire", options={"code": "save20"})
    assert "already retired" in again.embed["description"]
    assert len(shopfront.audit_posts()) == posts


async def test_a_minimum_order_of_zero_is_no_minimum(shopfront: Shopfront) -> None:
    result = await create(shopfront, min_order="0")
    assert result.embed["title"] == "Coupon SAVE20 created"


async def test_an_amount_is_read_with_its_thousands_separator(shopfront: Shopfront) -> None:
    """1,000.00 is a thousand dollars, not one: read the way catalog prices are."""
    result = await create(shopfront, percent=None, amount="1,000.00", code="big")
    assert "$1,000.00 off" in result.embed["description"]
