"""The sandbox page in a real browser (headless Chromium): a person's whole shop visit.

Each test starts the real sandbox (bot, store, fake gateway, web app) on a loopback port
and drives /sandbox through labels and roles. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.sandbox.browser_support import SandboxPage
from tests.sandbox.conftest import Sandbox

pytestmark = pytest.mark.asyncio


async def test_alice_shops_gifts_pays_and_bob_gets_the_gift(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """Browse, add, gift anonymously with a note, remove a line, pay; DMs and the role arrive."""
    page = SandboxPage(await browser.new_page(), "flow", sandbox.members)
    await page.open(sandbox.url, "alice")
    await expect(page.roles).to_contain_text("No roles")

    await page.slash("/shop")
    shop = page.message("Pick an item below")
    await expect(shop).to_contain_text("Only you can see this")
    await shop.get_by_label("Choose an item…").select_option("paid-1m")
    await page.message("Item code: paid-1m").get_by_role("button", name="Add to cart").click()
    await expect(page.message("Added to your cart")).to_contain_text("Paid account, 1 month")

    await shop.get_by_label("Choose what kind of item…").select_option("points")
    await expect(shop).to_contain_text("Points · page 2 of 2")
    await expect(shop.get_by_label("Choose what kind of item…")).to_have_value("points")
    await shop.get_by_label("Choose an item…").select_option("points-100")
    dialog = await page.gift("points-100", "bob", anonymous=True)
    await dialog.get_by_label("Note for the recipient (optional)").fill("enjoy <b>them</b>")
    await page.shot("1-gift-note")
    await dialog.get_by_role("button", name="Submit").click()
    await expect(dialog).to_be_hidden()
    await expect(page.message("Gift for @bob")).to_contain_text("100 points × 1")

    await page.choose("/cart add")
    await page.autocomplete("item", "12 mon", "Paid account, 12 months")
    await page.send()
    await expect(page.message("Added to your cart")).to_contain_text("12 months")

    await page.slash("/cart view")
    cart = page.message("Total")
    await expect(cart).to_contain_text("Gift for @bob (anonymous)")
    remove = cart.get_by_label("Remove a line…")
    line = await remove.locator("option", has_text="12 months").get_attribute("value")
    assert line is not None
    await remove.select_option(line)
    await expect(cart).not_to_contain_text("12 months")
    await page.shot("2-cart")

    await cart.get_by_role("button", name="Checkout").click()
    pay = page.message("Press Pay").get_by_role("link", name="Pay")
    await expect(pay).to_have_attribute("target", "_blank")
    async with browser.expect_page() as opened:
        await pay.click()
    gateway = await opened.value
    await expect(gateway.get_by_role("table")).to_contain_text("$")
    await gateway.get_by_role("button", name="Pay", exact=True).click()
    await gateway.wait_for_load_state()
    await gateway.screenshot(path=page.artifact("3-gateway"))
    await gateway.close()

    await expect(page.roles.get_by_role("listitem").filter(has_text="Paid")).to_be_visible()
    await page.shot("3-paid-role", docs=True)
    await page.open_dms()
    await expect(page.message("Receipt for order")).to_contain_text("1 month of Paid")
    await page.shot("4-alice-dms")

    await page.act_as("bob")
    await expect(page.message("You received a gift")).to_contain_text("enjoy <b>them</b>")
    await expect(page.message("You received a gift")).to_contain_text(re.compile("anonymous", re.I))
    await page.shot("5-bob-dms")


async def test_moderator_grants_points_and_only_moderators_see_the_audit_post(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """/shopadmin points grant as the moderator posts to #shop-audit, which alice can't list."""
    page = SandboxPage(await browser.new_page(), "moderator", sandbox.members)
    await page.open(sandbox.url, "mod")
    await expect(page.roles).to_contain_text("Shop moderator")

    await page.slash(
        "/shopadmin points grant",
        {"member": "bob", "amount": "250", "reason": "Helped at the <event>"},
    )
    await expect(page.message("Done")).to_contain_text("Only you can see this")
    await page.open_channel("shop-audit")
    post = page.message("Shop moderation")
    await expect(post).to_contain_text("@bob")
    await expect(post).to_contain_text("Helped at the <event>")
    await page.shot("1-audit")

    await page.act_as("alice")
    channels = page.page.get_by_role("navigation")
    await expect(channels.get_by_role("button", name="general")).to_be_visible()
    await expect(channels.get_by_role("button", name="shop-audit")).to_have_count(0)
    await expect(page.messages).not_to_contain_text("Shop moderation")
    await page.command.fill("/shopadmin")
    await expect(page.page.get_by_role("listbox", name="Commands")).to_be_hidden()


async def test_a_missing_required_option_is_reported_next_to_the_bar(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """Sending /cart add without an item shows an alert and sends nothing."""
    page = SandboxPage(await browser.new_page(), "errors", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.choose("/cart add")
    await page.page.keyboard.press("Enter")
    await expect(page.page.get_by_role("alert")).to_have_text("Fill in item.")
    await expect(page.page.get_by_role("combobox", name="item", exact=True)).to_be_focused()
    await expect(page.messages.locator("li.message")).to_have_count(0)


async def test_the_keyboard_alone_shops_and_the_refresh_keeps_what_is_typed(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """Enter chooses and sends; arrows pick an autocomplete answer; polling keeps focus and text."""
    page = SandboxPage(await browser.new_page(), "keyboard", sandbox.members)
    await page.open(sandbox.url, "alice")
    keyboard = page.page.keyboard
    await page.command.focus()
    await keyboard.type("/sh")
    await keyboard.press("Enter")
    await expect(page.command).to_have_value("/shop")
    await keyboard.press("Enter")
    await expect(page.message("Pick an item below")).to_be_visible()

    await keyboard.type("/cart add")
    await keyboard.press("Enter")
    item = page.page.get_by_role("combobox", name="item", exact=True)
    await expect(item).to_be_focused()
    await keyboard.type("100 po")
    await expect(page.page.get_by_role("listbox", name="Suggestions for item")).to_be_visible()
    await keyboard.press("ArrowDown")
    await keyboard.press("ArrowUp")
    await keyboard.press("Enter")
    await expect(item).to_have_value(re.compile(r"^100 points"))
    await page.page.wait_for_timeout(1500)  # the page refreshes every second meanwhile
    await expect(item).to_be_focused()
    await expect(item).to_have_value(re.compile(r"^100 points"))
    await keyboard.press("Tab")
    await expect(page.page.get_by_label("quantity", exact=True)).to_be_focused()
    await keyboard.type("2")
    await keyboard.press("Enter")
    await expect(page.message("Added to your cart")).to_contain_text("2 items")
    await expect(page.command).to_be_focused()
