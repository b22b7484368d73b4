"""The sandbox page with the fullest cart there is, a catalog too big for one menu, several
ways to pay, and an account that acts: paging buttons, the gateway choice and account
actions, in headless Chromium.

Most of a 25-line cart is put in through the sandbox API (what the page itself calls);
the last lines, and every step after, go through the page as a person would.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from playwright.async_api import BrowserContext, Locator, expect

from bot.settings import defaults_text
from tests.sandbox.browser_support import SandboxPage
from tests.sandbox.conftest import Sandbox

pytestmark = pytest.mark.asyncio

LINE_LIMIT = 25
NOTE_MAX = 1000
LONG_NOTES = pytest.mark.parametrize(
    "sandbox",
    [{"gift_note_max": NOTE_MAX, "cart_line_limit": LINE_LIMIT}],
    indirect=True,
    ids=["notes-1000"],
)

STICKERS = 30
BIG_CATALOG = pytest.mark.parametrize(
    "sandbox",
    [
        {
            "items": tomllib.loads(defaults_text())["store"]["items"]
            + [
                {"sku": f"sticker-{n:02d}", "name": f"Sticker {n:02d}", "price": 100 + n}
                | {"kind": "points", "points": 10 + n}
                for n in range(STICKERS)
            ]
        }
    ],
    indirect=True,
    ids=["33-points-items"],
)


def _note(index: int) -> str:
    """A note of the longest length allowed, with markdown the page must show as text."""
    return (f"{index:02d} " + "thanks *so* much <3 for _everything_ " * 40)[:NOTE_MAX]


async def _gift_lines(sandbox: Sandbox, count: int) -> None:
    skus = ["points-100", "points-500", "paid-1m"]
    for index in range(count):
        await sandbox.slash(
            "alice",
            "cart",
            "add",
            item=skus[index % len(skus)],
            anonymous=index % 2 == 1,
            note=_note(index),
            **{"for": str(sandbox.members["bob"])},
        )


async def _line_numbers(message: Locator) -> set[int]:
    names = await message.locator("dt.embed-field-name").all_inner_texts()
    return {int(m.group(1)) for name in names if (m := re.match(r"(\d+)\. ", name))}


async def _walk(page: SandboxPage, message: Locator, *, always: str) -> set[int]:
    """▶ to the last page and ◀ back to the first, in place, `always` shown on every page;
    the line numbers seen on the way."""
    count = await page.messages.locator("li.message").count()
    previous = message.get_by_role("button", name="◀ Previous")
    following = message.get_by_role("button", name="Next ▶")
    footer = message.locator(".embed-footer")
    first, pages = await page.page_of(message)
    assert first == 1 and pages > 1
    await expect(previous).to_be_disabled()
    seen = await _line_numbers(message)
    for number in [*range(2, pages + 1), *range(pages - 1, 0, -1)]:
        await (following if number > first else previous).click()
        await expect(footer).to_have_text(f"Page {number} of {pages}")
        await expect(message).to_contain_text(always)
        seen |= await _line_numbers(message)
        if number == pages:
            await expect(following).to_be_disabled()
            await expect(previous).to_be_enabled()
        first = number
    await expect(previous).to_be_disabled()
    await expect(page.messages.locator("li.message")).to_have_count(count)  # edited, not sent
    return seen


@LONG_NOTES
async def test_a_25_line_cart_with_the_longest_notes_pages_and_checks_out_in_the_page(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """22 gift lines by API, 3 by hand (one through the gift dialog); /cart view pages both
    ways with every line once; Checkout's summary pages; Pay at the gateway; receipt DM."""
    await _gift_lines(sandbox, LINE_LIMIT - 3)
    page = SandboxPage(await browser.new_page(), "long-cart", sandbox.members)
    await page.open(sandbox.url, "alice")

    await page.choose("/cart add")
    await page.autocomplete("item", "1 mon", "Paid account, 1 month")
    await page.send()
    await expect(page.message("Added to your cart")).to_contain_text("23 items")

    await page.choose("/cart add")
    await page.autocomplete("item", "500", "500 points")
    await page.fill("/cart add", {"for": "bob", "note": _note(23)})
    await page.send()
    await expect(page.message("Added to your cart")).to_contain_text("24 items")

    await page.slash("/item", {"item": "points-100"})
    dialog = await page.gift("points-100", "bob", anonymous=False)
    await dialog.get_by_label("Note for the recipient (optional)").fill(_note(24))
    await expect(dialog).to_contain_text(f"{NOTE_MAX} / {NOTE_MAX}")
    await dialog.get_by_role("button", name="Submit").click()
    await expect(dialog).to_be_hidden()
    await expect(page.message("Added to your cart")).to_contain_text(f"{LINE_LIMIT} items")

    await page.slash("/cart view")
    cart = await page.pinned("Page 1 of")
    assert await _walk(page, cart, always="Total") == set(range(1, LINE_LIMIT + 1))
    await page.shot("1-cart")

    await cart.get_by_role("button", name="Checkout").click()
    summary = await page.pinned("Press Pay")
    await _walk(page, summary, always="To pay")
    await page.shot("2-checkout-summary")
    async with browser.expect_page() as opened:
        await summary.get_by_role("link", name="Pay").click()
    gateway = await opened.value
    await gateway.get_by_role("button", name="Pay", exact=True).click()
    await gateway.wait_for_load_state()
    await gateway.close()

    await expect(page.roles.get_by_role("listitem").filter(has_text="Paid")).to_be_visible()
    await page.open_dms()
    await expect(page.message("Receipt for order")).to_be_visible()
    await page.shot("3-receipt")


@LONG_NOTES
async def test_the_keyboard_pages_a_long_cart_and_keeps_its_place(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """Enter on Next ▶ pages in place with focus kept on it; at the last page ▶ is disabled
    and focus moves to ◀ Previous, where Enter pages back."""
    await _gift_lines(sandbox, LINE_LIMIT)
    page = SandboxPage(await browser.new_page(), "keyboard-pages", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.slash("/cart view")
    cart = await page.pinned("Page 1 of")
    _, pages = await page.page_of(cart)
    following = cart.get_by_role("button", name="Next ▶")
    previous = cart.get_by_role("button", name="◀ Previous")
    await following.focus()
    for number in range(2, pages):
        await page.page.keyboard.press("Enter")
        await expect(cart.locator(".embed-footer")).to_have_text(f"Page {number} of {pages}")
        await expect(following).to_be_focused()
    await page.page.keyboard.press("Enter")
    await expect(cart.locator(".embed-footer")).to_have_text(f"Page {pages} of {pages}")
    await expect(following).to_be_disabled()
    await expect(previous).to_be_focused()
    await page.page.keyboard.press("Enter")
    await expect(cart.locator(".embed-footer")).to_have_text(f"Page {pages - 1} of {pages}")
    await expect(previous).to_be_focused()


async def test_checkout_offers_each_gateway_by_name_and_the_test_one_pays(
    two_gateway_sandbox: Sandbox, browser: BrowserContext
) -> None:
    """Stripe (stub) and fake enabled, alice has points: a button per gateway and one for
    the points; the test payment's button gives its Pay link, which pays."""
    sandbox = two_gateway_sandbox
    await sandbox.slash(
        "mod",
        "shopadmin",
        "points",
        "grant",
        member=str(sandbox.members["alice"]),
        amount=50,
        reason="test",
    )
    page = SandboxPage(await browser.new_page(), "gateways", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.slash("/item", {"item": "paid-1m"})
    await page.message("Item code: paid-1m").get_by_role("button", name="Add to cart").click()
    added = page.message("Added to your cart")
    await added.get_by_role("button", name="Checkout").click()

    choice = await page.pinned("How would you like to pay?")
    for name in ["Card (Stripe)", "Test payment (no money)", "Use my 50 points"]:
        await expect(choice.get_by_role("button", name=name, exact=True)).to_be_enabled()
    await page.shot("1-choice")
    await choice.get_by_role("button", name="Test payment (no money)").click()
    pay = page.message("Press Pay").get_by_role("link", name="Pay")
    await expect(pay).to_have_attribute("href", re.compile(f"^{re.escape(sandbox.url)}/"))
    async with browser.expect_page() as opened:
        await pay.click()
    gateway = await opened.value
    await gateway.get_by_role("button", name="Pay", exact=True).click()
    await gateway.wait_for_load_state()
    await gateway.close()
    await expect(page.roles.get_by_role("listitem").filter(has_text="Paid")).to_be_visible()


async def test_account_shows_pay_and_cancel_and_cancelling_puts_the_lines_back(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """A pending order in /account has Pay (its link) and Cancel; Cancel says so, and the
    cart holds its lines again."""
    await sandbox.slash("alice", "cart", "add", item="paid-2m")
    await sandbox.slash("alice", "cart", "add", item="points-100", quantity=2)
    checkout = await sandbox.slash("alice", "checkout")
    [[pay_url]] = [
        [c["url"] for c in row["components"] if c.get("url")]
        for row in checkout["message"]["components"]
    ]
    page = SandboxPage(await browser.new_page(), "account", sandbox.members)
    await page.open(sandbox.url, "alice")

    await page.slash("/account")
    account = await page.pinned("Your account")
    await expect(account).to_contain_text("Pending orders")
    pay = account.get_by_role("link", name=re.compile(r"^Pay #\d+"))
    await expect(pay).to_have_attribute("href", pay_url)
    cancel = account.get_by_role("button", name=re.compile(r"^Cancel #\d+"))
    await page.shot("1-account")
    await cancel.click()
    await expect(page.message("cancelled")).to_contain_text("back in your cart")

    await page.slash("/cart view")
    cart = page.message("Total")
    await expect(cart).to_contain_text("Paid account, 2 months")
    await expect(cart).to_contain_text("100 points × 2")


@LONG_NOTES
async def test_a_paid_long_order_opens_from_account_in_pages_and_its_receipt_comes_again(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """/account's "Open an order…" shows a paid 25-line order a page at a time (what was paid
    on every page); "Send me the receipt again" puts a second receipt in the DMs."""
    await _gift_lines(sandbox, LINE_LIMIT)
    checkout = await sandbox.slash("alice", "checkout")
    order_id = re.sub(r"\D", "", checkout["message"]["embeds"][0]["title"])
    [pay_url] = [
        c["url"]
        for row in checkout["message"]["components"]
        for c in row["components"]
        if c.get("url")
    ]
    gateway = await browser.new_page()
    await gateway.goto(pay_url)
    await gateway.get_by_role("button", name="Pay", exact=True).click()
    await gateway.wait_for_load_state()
    await gateway.close()
    page = SandboxPage(await browser.new_page(), "order-pages", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.open_dms()
    await expect(page.message("Receipt for order")).to_be_visible()
    await page.open_channel("general")

    await page.slash("/account")
    account = await page.pinned("Your account")
    await account.get_by_label("Open an order…").select_option(order_id)
    order = await page.pinned("Paid:")  # the order's facts, not its checkout message
    await expect(order).to_contain_text(f"Order #{order_id}")
    await _walk(page, order, always="Paid:")
    await page.shot("1-order")
    await order.get_by_role("button", name="Send me the receipt again").click()
    await expect(page.message("Receipt sent")).to_contain_text(f"order #{order_id}")
    await page.open_dms()
    await expect(
        page.messages.locator("li.message").filter(has_text="Receipt for order")
    ).to_have_count(2)


@BIG_CATALOG
async def test_a_catalog_past_one_menu_pages_in_place_to_its_last_item(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """33 points items: /shop's ▶ turns to Points (25 in the menu, the kind picker showing
    it), then to the last 8; the last sticker is picked from there and added."""
    page = SandboxPage(await browser.new_page(), "big-catalog", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.slash("/shop")
    shop = await page.pinned("Pick an item below")
    following = shop.get_by_role("button", name="Next ▶")
    menu = shop.get_by_label("Choose an item…")
    await following.click()
    await expect(shop).to_contain_text("Points · page 2 of 3")
    await expect(shop.get_by_label("Choose what kind of item…")).to_have_value("points")
    await expect(menu.locator("option:not([disabled])")).to_have_count(25)
    await following.click()
    await expect(shop).to_contain_text("Points · page 3 of 3")
    await expect(following).to_be_disabled()
    await expect(menu.locator("option:not([disabled])")).to_have_count(33 - 25)
    await page.shot("1-last-page")
    await menu.select_option(f"sticker-{STICKERS - 1:02d}")
    await (
        page.message(f"Item code: sticker-{STICKERS - 1:02d}")
        .get_by_role("button", name="Add to cart")
        .click()
    )
    await expect(page.message("Added to your cart")).to_contain_text(f"Sticker {STICKERS - 1:02d}")
