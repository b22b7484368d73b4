"""Driving the sandbox page in headless Chromium the way a person does: by labels and roles.

Debian's Chromium (`apt-get install chromium`) is used; Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

CHROMIUM = os.environ.get("STOREFRONT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "sandbox.png"
TIMEOUT_MS = 10_000


def chromium_path() -> str:
    """The browser's path; a missing browser fails the test (`make test` installs it)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    pytest.fail("Chromium is not installed: apt-get install -y chromium (make test does)")


class SandboxPage:
    """The sandbox page, with the few gestures the tests repeat."""

    def __init__(self, page: Page, name: str, members: Mapping[str, int]) -> None:
        self.page = page
        self.name = name
        self.members = members
        self.command = page.get_by_role("combobox", name="Command", exact=True)
        self.messages = page.locator("#message-list")
        self.roles = page.get_by_role("list", name="Roles of the member you act as")
        self.alert = page.locator("#command-error")

    async def open(self, url: str, member: str) -> None:
        await self.page.goto(f"{url}/sandbox")
        await expect(self.page.locator("body[data-ready]")).to_be_attached()
        await self.act_as(member)

    async def act_as(self, member: str) -> None:
        await self.page.get_by_label("Acting as").select_option(str(self.members[member]))

    async def switch_guild(self, name: str) -> None:
        """Click the guild in the server list on the left, as in Discord."""
        servers = self.page.get_by_role("navigation", name="Servers")
        await servers.get_by_role("button", name=name, exact=True).click()
        await expect(self.page.get_by_role("heading", level=1)).to_have_text(name)

    async def open_channel(self, name: str) -> None:
        await self.page.get_by_role("navigation").get_by_role("button", name=name).click()

    async def open_dms(self) -> None:
        await self.page.get_by_role("button", name="Direct messages").click()

    async def choose(self, text: str) -> None:
        """Type a command and choose it from the list the page offers."""
        await self.command.fill(text)
        suggestions = self.page.get_by_role("listbox", name="Commands")
        await suggestions.get_by_role("option", name=text, exact=True).click()
        await expect(self.command).to_have_value(text)

    async def fill(self, command: str, fields: Mapping[str, str | bool]) -> None:
        """Fill the chosen command's options by their labels."""
        group = self.page.get_by_role("group", name=f"Options for {command}")
        for label, value in fields.items():
            control = group.get_by_label(label, exact=True)
            if isinstance(value, bool):
                await control.set_checked(value)
            elif await control.evaluate("node => node.tagName") == "SELECT":
                await control.select_option(label=value)
            else:
                await control.fill(value)

    async def send(self) -> None:
        await self.page.get_by_role("button", name="Send", exact=True).click()
        await expect(self.command).to_have_value("")

    async def slash(self, text: str, fields: Mapping[str, str | bool] | None = None) -> None:
        """Type a command, choose it from the list, fill its options and press Send."""
        await self.choose(text)
        await self.fill(text, fields or {})
        await self.send()

    async def autocomplete(self, option: str, typed: str, choice: str) -> None:
        """Type into an autocomplete option and pick one of the bot's answers."""
        field = self.page.get_by_role("combobox", name=option, exact=True)
        await field.press_sequentially(typed, delay=20)
        listbox = self.page.get_by_role("listbox", name=f"Suggestions for {option}")
        await listbox.get_by_role("option", name=choice).click()

    async def gift(self, sku: str, member: str, *, anonymous: bool) -> Locator:
        """From the item's message: Gift…, pick the member, signed or not; returns the
        note dialog, open and waiting for its note."""
        await self.message(f"Item code: {sku}").get_by_role("button", name="Gift…").click()
        await (
            self.message("Choose who receives it")
            .get_by_label("Who is the gift for?")
            .select_option(label=member)
        )
        how = "Add gift anonymously" if anonymous else "Add gift (signed)"
        await self.message("signed or anonymously").get_by_role("button", name=how).click()
        return self.page.get_by_role("dialog", name="Gift note")

    def message(self, text: str) -> Locator:
        """The newest message that shows this text."""
        return self.messages.locator("li.message").filter(has_text=text).last

    async def pinned(self, text: str) -> Locator:
        """The newest message showing this text, followed by its id from then on (paging
        edits a message in place, so its text changes under the test)."""
        found = self.message(text)
        await expect(found).to_be_visible()
        message_id = await found.get_attribute("data-id")
        return self.messages.locator(f'li.message[data-id="{message_id}"]')

    async def page_of(self, message: Locator) -> tuple[int, int]:
        """(page, pages) from a paged message's footer, "Page 2 of 3"."""
        footer = message.locator(".embed-footer")
        await expect(footer).to_have_text(re.compile(r"Page \d+ of \d+"))
        numbers = re.findall(r"\d+", await footer.inner_text())
        return int(numbers[0]), int(numbers[1])

    def artifact(self, step: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / f"browser-{self.name}-{step}.png"

    async def shot(self, step: str, *, docs: bool = False) -> None:
        """A screenshot in test-artifacts/; with STOREFRONT_DOCS_SCREENSHOT=1 also the README's."""
        await self.page.screenshot(path=self.artifact(step))
        if docs and os.environ.get("STOREFRONT_DOCS_SCREENSHOT"):
            await self.page.screenshot(path=DOCS_SCREENSHOT)
