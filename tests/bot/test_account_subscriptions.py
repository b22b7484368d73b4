"""/account and subscriptions: each one listed with its price and what comes next, with
buttons to cancel or resume its renewal and a link to update the payment details.

Alice buys a monthly Paid subscription through the real flow (cart, checkout, the fake
gateway's page); her presses go to the fake gateway, and the account changes when its
webhook arrives, as with a real one.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from typing import Any

import pytest

from bot.settings import defaults_text
from store.subscriptions import SubscriptionRecord, SubscriptionStatus
from tests.bot.conftest import Shopfront
from tests.store.helpers import snapshot
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

MONTHLY = {
    "sku": "paid-monthly",
    "name": "Paid, renewing monthly",
    "price": 300,
    "kind": "membership",
    "tier": "paid",
    "billing": "subscription",
    "interval": "month",
}
WITH_SUBSCRIPTION = {"items": [*tomllib.loads(defaults_text())["store"]["items"], MONTHLY]}
subscribed_shop = pytest.mark.parametrize("shopfront", [WITH_SUBSCRIPTION], indirect=True)


def _components(result: Any) -> list[dict[str, Any]]:
    return [c for row in result.components for c in row["components"]]


def _custom_ids(result: Any) -> list[str]:
    return [c["custom_id"] for c in _components(result) if "custom_id" in c]


def _links(result: Any) -> dict[str, str]:
    return {c["label"]: c["url"] for c in _components(result) if c.get("url")}


def _subscriptions(result: Any) -> str:
    return str(next(f["value"] for f in result.embed["fields"] if f["name"] == "Subscriptions"))


async def _delivered(shopfront: Shopfront) -> None:
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()


async def _subscribe(shopfront: Shopfront) -> SubscriptionRecord:
    """Alice buys the monthly subscription: /cart add, /checkout, pay on the fake's page."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
    checkout = await h.slash(alice, "checkout")
    [pay] = [c["url"] for c in _components(checkout) if c.get("url")]
    session_id = pay.rsplit("/", 1)[1]
    paid = await shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=True
    )
    assert paid.status == 200
    await _delivered(shopfront)
    [subscription] = await shopfront.bot.shop.subscriptions.for_member(shopfront.guild_id, alice.id)
    return subscription


async def _status(shopfront: Shopfront) -> SubscriptionStatus:
    [record] = await shopfront.bot.shop.subscriptions.for_member(
        shopfront.guild_id, shopfront.alice.id
    )
    return record.status


@subscribed_shop
async def test_the_account_lists_the_subscription_with_its_price_and_next_renewal(
    shopfront: Shopfront,
) -> None:
    subscription = await _subscribe(shopfront)
    account = await shopfront.harness.slash(shopfront.alice, "account")
    line = _subscriptions(account)
    assert line.startswith("**Paid** — $3.00 a month — renews on <t:")
    alice = shopfront.alice.id
    assert f"sub:cancel:{alice}:{subscription.id}" in _custom_ids(account)
    assert f"sub:resume:{alice}:{subscription.id}" not in _custom_ids(account)


@subscribed_shop
async def test_cancel_asks_the_gateway_and_the_account_shows_the_end_once_it_confirms(
    shopfront: Shopfront,
) -> None:
    subscription = await _subscribe(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    account = await h.slash(alice, "account")
    reply = await h.press(alice, account, f"sub:cancel:{alice.id}:{subscription.id}")
    assert reply.embed["title"] == "Paid won't renew"
    assert reply.embed["description"].startswith("It won't renew; you keep Paid until <t:")
    assert "as soon as the payment provider confirms it" in reply.embed["description"]
    await _delivered(shopfront)
    assert await _status(shopfront) is SubscriptionStatus.CANCELING
    after = await h.slash(alice, "account")
    assert "— won't renew: ends on <t:" in _subscriptions(after)
    assert f"sub:resume:{alice.id}:{subscription.id}" in _custom_ids(after)
    assert f"sub:cancel:{alice.id}:{subscription.id}" not in _custom_ids(after)


@subscribed_shop
async def test_resume_after_cancel_renews_again(shopfront: Shopfront, clock: FakeClock) -> None:
    subscription = await _subscribe(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    account = await h.slash(alice, "account")
    await h.press(alice, account, f"sub:cancel:{alice.id}:{subscription.id}")
    await _delivered(shopfront)
    clock.advance(hours=1)  # she thinks it over (the gateway's reports are a second apart)
    canceling = await h.slash(alice, "account")
    reply = await h.press(alice, canceling, f"sub:resume:{alice.id}:{subscription.id}")
    assert reply.embed["title"] == "Paid renews again"
    assert "for $3.00 a month" in reply.embed["description"]
    await _delivered(shopfront)
    assert await _status(shopfront) is SubscriptionStatus.ACTIVE
    assert "— renews on <t:" in _subscriptions(await h.slash(alice, "account"))


@subscribed_shop
async def test_update_payment_links_to_the_gateways_page_which_leads_back_here(
    shopfront: Shopfront,
) -> None:
    subscription = await _subscribe(shopfront)
    account = await shopfront.harness.slash(shopfront.alice, "account")
    url = _links(account)["Update payment · Paid, monthly"]
    assert url == f"{shopfront.url}/subscription/manage/{subscription.manage_token}"
    async with shopfront.http.get(url, allow_redirects=False) as hop:
        assert hop.status == 302  # a fresh page at the gateway, made when opened
        assert hop.headers["Location"].endswith(f"/fake-gateway/manage/{subscription.gateway_ref}")
    async with shopfront.http.get(url) as page:
        assert page.status == 200
        assert f"{shopfront.url}/subscription/return" in await page.text()
    async with shopfront.http.get(f"{shopfront.url}/subscription/return") as back:
        assert back.status == 200
        assert "go back to Discord" in await back.text()


@subscribed_shop
async def test_pressing_another_members_subscription_button_is_refused(
    shopfront: Shopfront,
) -> None:
    """Alice's subscription, pressed by Bob on a copy of her button or on his own id:
    a clear refusal, nothing asked of the gateway, nothing stored."""
    subscription = await _subscribe(shopfront)
    alice, bob = shopfront.alice, shopfront.bob
    before = await snapshot(shopfront.bot.shop.ctx.db)
    for custom_id, says in (
        (f"sub:cancel:{alice.id}:{subscription.id}", "another member's account"),
        (f"sub:cancel:{bob.id}:{subscription.id}", "isn't one of yours"),
        (f"sub:resume:{bob.id}:{subscription.id}", "isn't one of yours"),
    ):
        message = shopfront.world.post_message(
            shopfront.world.guild.channel("general"),
            components=[
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 4, "label": "x", "custom_id": custom_id}],
                }
            ],
        )
        result = await shopfront.harness.press(bob, message, custom_id)
        assert says in result.embed["description"] and result.ephemeral
    await _delivered(shopfront)
    assert await snapshot(shopfront.bot.shop.ctx.db) == before
    fake = shopfront.bot.gateway.subscription(subscription.gateway_ref)  # type: ignore[attr-defined]
    assert fake["cancel_at_period_end"] is False


@subscribed_shop
async def test_with_three_pending_orders_and_a_cart_the_page_keeps_to_five_rows(
    shopfront: Shopfront,
) -> None:
    """The subscription's row, two orders' Pay and Cancel, the order select, the cart."""
    subscription = await _subscribe(shopfront)
    h, alice = shopfront.harness, shopfront.alice
    orders = []
    for _ in range(3):
        await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
        await h.slash(alice, "checkout")
        [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id, limit=1)
        orders.append(order.id)
    await h.slash(alice, "cart", "add", options={"item": "paid-2m"})
    account = await h.slash(alice, "account")
    rows = [
        [c.get("custom_id") or c["label"] for c in row["components"]] for row in account.components
    ]
    newest, second = sorted(orders, reverse=True)[:2]
    assert rows == [
        [f"sub:cancel:{alice.id}:{subscription.id}", "Update payment · Paid, monthly"],
        [f"Pay #{newest}", f"account:cancel:{alice.id}:{newest}"],
        [f"Pay #{second}", f"account:cancel:{alice.id}:{second}"],
        [f"account:order:{alice.id}"],
        [f"cart:checkout:{alice.id}", "shop:cart"],
    ]


async def test_at_a_gateway_no_longer_enabled_no_payment_link_and_cancel_is_refused(
    shopfront: Shopfront,
) -> None:
    alice = shopfront.alice
    shop = shopfront.bot.shop
    record = await shop.subscriptions.start(
        shop_id=shopfront.guild_id,
        member_id=alice.id,
        tier="paid",
        sku="paid-monthly",
        interval="month",
        gateway="retired",
        gateway_ref="sub_retired",
        order_id=None,
        order_line_id=None,
        amount=300,
        currency="USD",
    )
    account = await shopfront.harness.slash(alice, "account")
    assert "**Paid** — $3.00 a month" in _subscriptions(account)
    assert _links(account) == {}
    before = await snapshot(shop.ctx.db)
    refused = await shopfront.harness.press(alice, account, f"sub:cancel:{alice.id}:{record.id}")
    assert "no longer has enabled" in refused.embed["description"]
    assert await snapshot(shop.ctx.db) == before


def _dm_text(embed: dict[str, Any]) -> str:
    fields = [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join([embed.get("title", ""), embed.get("description", ""), *fields])


@subscribed_shop
async def test_reminders_speak_of_the_renewal_until_it_is_set_to_cancel(
    shopfront: Shopfront, clock: FakeClock
) -> None:
    """14 days before: "renews on …, $3.00". Cancelled, 3 days before: the end, as today."""
    subscription = await _subscribe(shopfront)
    h, alice, shop = shopfront.harness, shopfront.alice, shopfront.bot.shop
    account_view = await shop.accounts.account(shopfront.guild_id, alice.id, recent=0)
    [ends_at] = [m.expires_at for m in account_view.memberships if m.tier == "paid"]
    assert ends_at is not None
    clock.now = ends_at - timedelta(days=14)
    assert await shop.memberships.claim_reminders()
    await shopfront.effects_delivered()
    renews = _dm_text(shopfront.dm_embeds(alice)[-1])
    assert "subscription renews soon" in renews and ", $3.00." in renews
    assert "renews on <t:" in renews and "/account" in renews

    account = await h.slash(alice, "account")
    await h.press(alice, account, f"sub:cancel:{alice.id}:{subscription.id}")
    await _delivered(shopfront)
    clock.now = ends_at - timedelta(days=3)
    assert await shop.memberships.claim_reminders()
    await shopfront.effects_delivered()
    ends = _dm_text(shopfront.dm_embeds(alice)[-1])
    assert "membership ends soon" in ends and "ends on <t:" in ends and "$3.00" not in ends
