"""Two guilds, two shops, in a real browser (headless Chromium): switching between them
as in Discord, and a moderator changing one guild's catalog from the page.

Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.sandbox.browser_support import SandboxPage
from tests.sandbox.conftest import Sandbox

pytestmark = pytest.mark.asyncio

FIRST, SECOND = "Storefront Sandbox", "Sandbox Café"


async def test_the_guild_list_switches_between_two_shops(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """The second guild has its own members and a shop in euros; the first stays in dollars."""
    page = SandboxPage(await browser.new_page(), "guilds", sandbox.members)
    await page.open(sandbox.url, "alice")
    await page.slash("/shop")
    await expect(page.message("Pick an item below")).to_contain_text("$3.00")

    await page.switch_guild(SECOND)
    await expect(page.page.get_by_text("Shop: Sandbox Café · EUR · de_DE")).to_be_visible()
    acting = page.page.get_by_label("Acting as")
    await expect(acting).to_have_value(str(sandbox.members["alice"]))
    await expect(acting.locator("option", has_text="carla")).to_have_count(1)
    await expect(acting.locator("option", has_text="bob")).to_have_count(0)
    await expect(page.messages.locator("li.message")).to_have_count(0)
    await page.slash("/shop")
    shop = page.message("Pick an item below")
    await expect(shop).to_contain_text("3,00\xa0€")
    await expect(shop).not_to_contain_text("Paid account, 2 months")
    await page.shot("1-second-guild")

    await page.act_as("carla")
    await page.switch_guild(FIRST)
    await expect(acting).to_have_value(str(sandbox.members["alice"]))
    await expect(page.message("Pick an item below")).to_contain_text("$3.00")


async def test_a_moderator_adds_an_item_and_shop_shows_it_at_once_in_that_guild_only(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """/shopadmin catalog add's form in the first guild: /shop there lists the new item
    without a restart; the second guild's /shop does not."""
    page = SandboxPage(await browser.new_page(), "catalog", sandbox.members)
    await page.open(sandbox.url, "mod")
    await page.slash("/shopadmin catalog add", {"kind": "membership"})
    form = page.page.get_by_role("dialog", name="New membership item")
    await form.get_by_label("SKU").fill("paid-3m")
    await form.get_by_label("Name", exact=True).fill("Paid account, 3 months")
    await form.get_by_label("Price").fill("8.00")
    await form.get_by_label("Options").fill('tier = "paid"\nmonths = 3')
    await page.shot("1-add-form")
    await form.get_by_role("button", name="Submit").click()
    await expect(form).to_be_hidden()
    await expect(page.message("is on sale now")).to_contain_text("paid-3m")

    await page.act_as("alice")
    await page.slash("/shop")
    await expect(page.message("Pick an item below")).to_contain_text(
        "Paid account, 3 months — $8.00"
    )
    await page.shot("2-first-guild-shop")

    await page.switch_guild(SECOND)
    await page.slash("/shop")
    shop = page.message("Pick an item below")
    await expect(shop).to_contain_text("€")
    await expect(shop).not_to_contain_text("3 months")
