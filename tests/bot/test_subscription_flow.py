"""A subscription's life through the bot, the fake gateway over HTTP and the store.

Bought like any item; each renewal the fake gateway bills (on the shared clock) reaches
the shop as a signed webhook and extends the tier once; a failed renewal keeps the tier
for the grace period and tells the member where to fix the payment; a cancelled one
keeps what was paid for and then ends.
"""

from __future__ import annotations

import logging
import tomllib
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.settings import defaults_text
from store.subscriptions import SubscriptionRecord, SubscriptionStatus
from tests.bot.conftest import Shopfront
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
subscription_shop = pytest.mark.parametrize("shopfront", [WITH_SUBSCRIPTION], indirect=True)


async def _subscribe(front: Shopfront) -> SubscriptionRecord:
    h, alice = front.harness, front.alice
    added = await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
    assert added.embed["title"] == "Added to your cart"
    checkout = await h.slash(alice, "checkout")
    [pay] = [c for row in checkout.components for c in row["components"]]
    page = await front.http.get(pay["url"])
    assert "month" in await page.text()
    session_id = pay["url"].rsplit("/", 1)[1]
    paid = await front.http.post(f"{front.url}/fake-gateway/sessions/{session_id}/pay")
    assert paid.status == 200
    await _settled(front)
    [record] = await front.bot.shop.subscriptions.for_member(front.guild_id, alice.id)
    return record


async def _settled(front: Shopfront) -> None:
    await front.bot.gateway.drain()  # type: ignore[attr-defined]
    await front.effects_delivered()


async def _renewals_due(front: Shopfront) -> None:
    """What the fake gateway's billing run does when its clock passes a period end."""
    advanced = await front.http.post(f"{front.url}/fake-gateway/subscriptions/advance")
    assert advanced.status == 200
    await _settled(front)


async def _ends(front: Shopfront) -> datetime | None:
    account = await front.bot.shop.accounts.account(front.guild_id, front.alice.id, recent=0)
    return next((m.expires_at for m in account.memberships if m.tier == "paid"), None)


async def _record(front: Shopfront) -> SubscriptionRecord:
    [record] = await front.bot.shop.subscriptions.for_member(front.guild_id, front.alice.id)
    return record


def _dm_text(front: Shopfront) -> list[str]:
    return [str(embed) for embed in front.dm_embeds(front.alice)]


async def _act(front: Shopfront, record: SubscriptionRecord, action: str) -> Any:
    url = f"{front.url}/fake-gateway/subscriptions/{record.gateway_ref}/{action}"
    reply = await front.http.post(url)
    assert reply.status == 200, await reply.text()


@subscription_shop
async def test_a_subscription_is_bought_like_any_item_and_gives_the_role(
    shopfront: Shopfront,
) -> None:
    record = await _subscribe(shopfront)
    assert (record.tier, record.interval, record.status) == ("paid", "month", "active")
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles
    assert record.current_period_end == await _ends(shopfront)


@subscription_shop
async def test_each_renewal_extends_the_tier_by_one_month_once(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    await _renewals_due(shopfront)  # nothing more is due: billed once
    renewed = await _ends(shopfront)
    assert renewed is not None and renewed.month == (first_end.month % 12) + 1
    assert (await _record(shopfront)).current_period_end == renewed
    assert record.status == "active"


@subscription_shop
async def test_a_failed_renewal_keeps_the_tier_for_the_grace_period_then_it_lapses(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    assert first_end is not None
    await _act(shopfront, record, "fail-next-renewal")
    clock.now = first_end
    await _renewals_due(shopfront)

    assert (await _record(shopfront)).status is SubscriptionStatus.PAST_DUE
    [notice] = [t for t in _dm_text(shopfront) if "could not renew" in t]
    assert f"{shopfront.url}/subscription/manage/{record.manage_token}" in notice
    grace_end = await _ends(shopfront)
    assert grace_end is not None and (grace_end - first_end).days == 3
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles

    clock.now = grace_end
    await shopfront.bot.shop.memberships.claim_expired()
    await shopfront.effects_delivered()
    assert shopfront.paid_role not in shopfront.world.member(shopfront.alice.id).roles


@subscription_shop
async def test_fixing_the_payment_in_the_grace_period_gives_the_month_not_the_grace(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    assert first_end is not None
    await _act(shopfront, record, "fail-next-renewal")
    clock.now = first_end
    await _renewals_due(shopfront)
    await _act(shopfront, record, "fix-payment")
    await _settled(shopfront)
    renewed = await _ends(shopfront)
    after = await _record(shopfront)
    assert renewed is not None and renewed.month == (first_end.month % 12) + 1
    assert renewed == after.current_period_end  # the month paid, no grace on top
    assert after.status is SubscriptionStatus.ACTIVE


@subscription_shop
async def test_a_cancelled_subscription_keeps_the_time_paid_then_ends(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    await shopfront.bot.flow.renewals.cancel(shopfront.guild_id, shopfront.alice.id, record.id)
    await _settled(shopfront)
    assert (await _record(shopfront)).status is SubscriptionStatus.CANCELING
    assert await _ends(shopfront) == first_end

    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    assert (await _record(shopfront)).status is SubscriptionStatus.ENDED
    assert await _ends(shopfront) == first_end


@subscription_shop
async def test_resuming_before_the_end_renews_as_before(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    renewals = shopfront.bot.flow.renewals
    await renewals.cancel(shopfront.guild_id, shopfront.alice.id, record.id)
    await _settled(shopfront)
    clock.advance(days=1)
    await renewals.resume(shopfront.guild_id, shopfront.alice.id, record.id)
    await _settled(shopfront)
    assert (await _record(shopfront)).status is SubscriptionStatus.ACTIVE
    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    renewed = await _ends(shopfront)
    assert renewed is not None and renewed > first_end


@subscription_shop
async def test_a_refunded_renewal_takes_back_that_month_only(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    first_end = await _ends(shopfront)
    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    invoice = shopfront.bot.gateway.subscription(record.gateway_ref)  # type: ignore[attr-defined]
    renewal = invoice["invoices"][-1]["invoice_id"]
    refunded = await shopfront.http.post(f"{shopfront.url}/fake-gateway/invoices/{renewal}/refund")
    assert refunded.status == 200
    await _settled(shopfront)
    assert await _ends(shopfront) == first_end  # the month before stays paid for
    assert (await _record(shopfront)).status is SubscriptionStatus.ACTIVE


@subscription_shop
async def test_a_subscription_is_never_paid_with_points(shopfront: Shopfront) -> None:
    shop, alice = shopfront.bot.shop, shopfront.alice
    await shop.grants.grant_points(shopfront.guild_id, 1, alice.id, 10_000, "test")
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-monthly"})
    refused = await shopfront.harness.slash(alice, "checkout", use_points=True)
    assert "can't be paid with points" in str(refused.embed)
    assert (await shop.carts.view(shopfront.guild_id, alice.id)).item_count == 1


@subscription_shop
async def test_a_subscription_whose_checkout_webhooks_were_lost_still_starts(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    """Paid at the gateway, every webhook dropped, the order fulfilled on the way (the
    member's Cancel finds it paid): reconciliation finds the subscription its checkout
    made, whose renewals then count."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
    checkout = await h.slash(alice, "checkout")
    [pay] = [c for row in checkout.components for c in row["components"]]
    async with shopfront.http.post(
        f"{shopfront.url}/fake-gateway/faults", json={"drop": True}
    ) as dropped:
        assert dropped.status == 200
    session_id = pay["url"].rsplit("/", 1)[1]
    paid = await shopfront.http.post(  # the member closes the tab: no return page
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=False
    )
    assert paid.status in (200, 303)
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    assert await shopfront.bot.shop.subscriptions.for_member(shopfront.guild_id, alice.id) == []

    # The member presses Cancel in /account: the gateway says paid, so the order is
    # fulfilled there (paid wins), a path that never sees the subscription's id.
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    account = await h.slash(alice, "account")
    await h.press(alice, account, f"account:cancel:{alice.id}:{order.id}")
    assert await shopfront.bot.shop.subscriptions.for_member(shopfront.guild_id, alice.id) == []

    clock.advance(minutes=30)
    await shopfront.bot.flow.reconcile(timedelta(minutes=1))

    record = await _record(shopfront)
    assert (record.tier, record.status) == ("paid", SubscriptionStatus.ACTIVE)
    async with shopfront.http.post(
        f"{shopfront.url}/fake-gateway/faults", json={"drop": False}
    ) as restored:
        assert restored.status == 200
    first_end = await _ends(shopfront)
    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    renewed = await _ends(shopfront)
    assert renewed is not None and renewed > first_end


@subscription_shop
async def test_a_manage_link_that_is_not_the_shops_is_not_found(shopfront: Shopfront) -> None:
    await _subscribe(shopfront)
    async with shopfront.http.get(f"{shopfront.url}/subscription/manage/guessed") as page:
        assert page.status == 404


@subscription_shop
async def test_a_members_manage_link_is_never_written_to_the_access_log(
    shopfront: Shopfront, caplog: pytest.LogCaptureFixture
) -> None:
    record = await _subscribe(shopfront)
    assert record.manage_token
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    link = f"{shopfront.url}/subscription/manage/{record.manage_token}"
    async with shopfront.http.get(link, allow_redirects=False) as hop:
        assert hop.status == 302
    logged = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/subscription/manage/" in line for line in logged)
    assert not any(record.manage_token in line for line in logged)


@subscription_shop
async def test_an_ended_subscriptions_manage_link_opens_nothing(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    record = await _subscribe(shopfront)
    await shopfront.bot.flow.renewals.cancel(shopfront.guild_id, shopfront.alice.id, record.id)
    await _settled(shopfront)
    first_end = await _ends(shopfront)
    assert first_end is not None
    clock.now = first_end
    await _renewals_due(shopfront)
    link = f"{shopfront.url}/subscription/manage/{record.manage_token}"
    async with shopfront.http.get(link, allow_redirects=False) as page:
        assert page.status == 404
