"""The sandbox's clock: skipping ahead makes a month's renewals, failures and lapses
happen at once, seen through the sandbox API as a developer would see them."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from bot.settings import defaults_text
from store.clock import OffsetClock
from store.subscriptions import SubscriptionRecord
from tests.sandbox.browser_support import SandboxPage
from tests.sandbox.conftest import Sandbox
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

MONTHLY = {
    "sku": "paid-monthly",
    "name": "Paid, renews monthly",
    "price": 300,
    "kind": "membership",
    "tier": "paid",
    "billing": "subscription",
    "interval": "month",
}
WITH_SUBSCRIPTION = {"items": [*tomllib.loads(defaults_text())["store"]["items"], MONTHLY]}
subscription_sandbox = pytest.mark.parametrize(
    "sandbox", [WITH_SUBSCRIPTION], indirect=True, ids=["paid-monthly"]
)


async def _roles(sb: Sandbox, who: str) -> list[str]:
    _, state = await sb.get("/sandbox/api/state")
    member = next(m for m in state["members"] if m["name"] == who)
    return [role["name"] for role in member["roles"]]


async def _dm_text(sb: Sandbox, who: str) -> str:
    _, dms = await sb.get(f"/sandbox/api/members/{sb.members[who]}/dms")
    return "\n".join(str(message["embeds"]) for message in dms["messages"])


async def _subscribe(sb: Sandbox) -> SubscriptionRecord:
    """Alice buys the monthly subscription as any member would: cart, checkout, pay."""
    await sb.slash("alice", "cart", "add", item="paid-monthly")
    checkout = await sb.slash("alice", "checkout")
    [pay] = [c for row in checkout["message"]["components"] for c in row["components"]]
    async with sb.http.post(f"{pay['url'].replace('/checkout/', '/sessions/')}/pay") as paid:
        assert paid.status == 200
    await sb.app.bot.gateway.drain()  # type: ignore[attr-defined]
    for _ in range(250):
        if "Paid" in await _roles(sb, "alice"):
            break
        await asyncio.sleep(0.02)
    assert "Paid" in await _roles(sb, "alice")
    [record] = await sb.app.bot.shop.subscriptions.for_member(
        sb.app.layout.guild.id, sb.members["alice"]
    )
    return record


async def _paid_until(sb: Sandbox) -> datetime:
    shop = sb.app.bot.shop
    account = await shop.accounts.account(sb.app.layout.guild.id, sb.members["alice"], recent=0)
    [ends] = [m.expires_at for m in account.memberships if m.tier == "paid"]
    assert ends is not None
    return ends


async def _skip(sb: Sandbox, **advance: int) -> Any:
    status, body = await sb.post("/sandbox/api/clock", {"advance": advance})
    assert status == 200, body
    return body


async def _skip_past(sb: Sandbox, moment: datetime) -> Any:
    return await _skip(sb, days=(moment - sb.app.clock()).days + 1)


async def _only_the_skip_does_the_work(sb: Sandbox) -> None:
    """Stop the background reminder, expiry and effects workers: what a skip shows is
    then what the skip itself made happen before it answered."""
    for worker in sb.app.front.workers:
        if worker.name in {"reminders", "expiry", "effects"}:
            await worker.stop()


async def _fail_next_renewal(sb: Sandbox, record: SubscriptionRecord) -> None:
    url = f"{sb.url}/fake-gateway/subscriptions/{record.gateway_ref}/fail-next-renewal"
    async with sb.http.post(url) as response:
        assert response.status == 200, await response.text()


async def test_the_offset_clock_runs_with_real_time_and_only_forward() -> None:
    """It keeps following its base clock, plus every skip; a skip back or of nothing is
    refused, so nothing stamped by it ever sees time run backwards."""
    base = FakeClock()
    clock = OffsetClock(base)
    assert clock.advance(timedelta(days=2)) == base.now + timedelta(days=2)
    base.advance(hours=1)
    assert clock() == base.now + timedelta(days=2)
    for bad in (timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(ValueError, match="only moves forward"):
            clock.advance(bad)
    assert clock.offset == timedelta(days=2)


async def test_the_state_shows_the_sandbox_time(sandbox: Sandbox) -> None:
    """Real time at first; a skip of 7 days shows 7 days ahead."""
    _, state = await sandbox.get("/sandbox/api/state")
    assert state["clock"]["ahead_seconds"] == 0
    started = datetime.fromisoformat(state["clock"]["now"])
    await _skip(sandbox, days=7)
    _, state = await sandbox.get("/sandbox/api/state")
    assert state["clock"]["ahead_seconds"] == 7 * 86400
    assert (datetime.fromisoformat(state["clock"]["now"]) - started).days == 7


@subscription_sandbox
async def test_skipping_past_the_period_end_renews_the_membership(sandbox: Sandbox) -> None:
    """The fake gateway bills the month on the sandbox's clock; the tier runs a month on."""
    await _subscribe(sandbox)
    first_end = await _paid_until(sandbox)
    skipped = await _skip_past(sandbox, first_end)
    assert skipped["subscriptions_billed"] == 1 and skipped["effects_pending"] == 0
    renewed = await _paid_until(sandbox)
    assert renewed.month == first_end.month % 12 + 1 and renewed > sandbox.app.clock()
    assert "Paid" in await _roles(sandbox, "alice")


@subscription_sandbox
async def test_a_failed_renewal_is_told_to_the_member_at_once(sandbox: Sandbox) -> None:
    """fail-next-renewal, then a skip past the period end: the DM is there in the answer."""
    record = await _subscribe(sandbox)
    await _only_the_skip_does_the_work(sandbox)
    await _fail_next_renewal(sandbox, record)
    await _skip_past(sandbox, await _paid_until(sandbox))
    assert "could not renew" in await _dm_text(sandbox, "alice")
    assert "Paid" in await _roles(sandbox, "alice")  # the grace period runs


@subscription_sandbox
async def test_skipping_past_the_grace_period_takes_the_role(sandbox: Sandbox) -> None:
    """After the failed renewal's grace the expiry pass runs in the skip: the role is gone."""
    record = await _subscribe(sandbox)
    await _only_the_skip_does_the_work(sandbox)
    await _fail_next_renewal(sandbox, record)
    await _skip_past(sandbox, await _paid_until(sandbox))
    grace_end = await _paid_until(sandbox)
    await _skip_past(sandbox, grace_end)
    assert "Paid" not in await _roles(sandbox, "alice")


BAD_SKIPS: list[tuple[Any, str]] = [
    ({"days": 0}, "only moves forward"),
    ({"days": -1}, "whole number"),
    ({"hours": 1.5}, "whole number"),
    ({"days": "7"}, "whole number"),
    ({"days": True}, "whole number"),
    ({"days": 401}, "at most 400 days"),
    ({"days": 400, "hours": 1}, "at most 400 days"),
    ({"days": 10**30}, "at most 400 days"),
    ({"weeks": 1}, "days and hours"),
    ({}, "how far"),
    (7, "how far"),
    (None, "how far"),
]


@subscription_sandbox
@pytest.mark.parametrize(("advance", "message"), BAD_SKIPS, ids=str)
async def test_a_bad_skip_is_a_400_and_changes_nothing(
    sandbox: Sandbox, advance: Any, message: str
) -> None:
    """Not forward, too far, not a number of days or hours: a message; time and the
    subscription stay where they were."""
    record = await _subscribe(sandbox)
    before = sandbox.app.bot.gateway.subscription(record.gateway_ref)  # type: ignore[attr-defined]
    status, body = await sandbox.post("/sandbox/api/clock", {"advance": advance})
    assert (status, message in body["error"]) == (400, True), body
    assert sandbox.app.clock.offset.total_seconds() == 0
    after = sandbox.app.bot.gateway.subscription(record.gateway_ref)  # type: ignore[attr-defined]
    assert after == before


async def test_another_sites_page_cannot_skip_ahead(sandbox: Sandbox) -> None:
    """The same guard as the rest of the API: a foreign Origin is a 403, time stays."""
    async with sandbox.http.post(
        f"{sandbox.url}/sandbox/api/clock",
        json={"advance": {"days": 30}},
        headers={"Origin": "https://evil.example"},
    ) as response:
        assert response.status == 403
    assert sandbox.app.clock.offset.total_seconds() == 0


@subscription_sandbox
async def test_the_page_skips_ahead_and_shows_what_happened(
    sandbox: Sandbox, browser: BrowserContext
) -> None:
    """In the browser: the sidebar shows the sandbox time; 7 days, then 30 days later it
    is 37 days ahead and the failed renewal's DM is in alice's messages."""
    record = await _subscribe(sandbox)
    await _fail_next_renewal(sandbox, record)
    page = SandboxPage(await browser.new_page(), "clock", sandbox.members)
    await page.open(sandbox.url, "alice")
    clock = page.page.get_by_role("region", name="Sandbox time")
    await expect(clock).to_contain_text("(real time)")
    await clock.get_by_role("button", name="7 days").click()
    await expect(clock).to_contain_text("(7 days ahead)")
    await clock.get_by_role("button", name="30 days").click()
    await expect(clock).to_contain_text("(37 days ahead)")
    await page.open_dms()
    await expect(page.message("could not renew")).to_be_visible()
    await page.shot("skipped-ahead")
