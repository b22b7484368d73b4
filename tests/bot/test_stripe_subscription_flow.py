"""A subscription's life through the bot with Stripe, on the local Stripe stub over HTTP.

The member buys through /cart and /checkout and pays on the Stripe link; the stub then
does what Stripe does (completes the session, bills renewals, fails one, ends the
subscription), and every webhook it would send reaches the shop's /webhooks/stripe
signed, as Stripe delivers them: each state below comes from those webhooks alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from store.db.engine import Database
from store.subscriptions import SubscriptionRecord, SubscriptionStatus
from tests.bot.conftest import Shopfront
from tests.bot.test_subscription_flow import WITH_SUBSCRIPTION
from tests.payments.stripe_api_stub import StripeStub, gateway_table, signed
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

WEBHOOK_SECRET = "whsec_subscription_flow"


@pytest_asyncio.fixture
async def stripe_front(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Shopfront, StripeStub]]:
    """The bot with Stripe as its only gateway, selling ``paid-monthly``; the stub dates
    periods and events by the shop's clock."""
    stub = StripeStub(clock=lambda: int(clock().timestamp()))
    await stub.start()

    def only_stripe(data: dict[str, Any]) -> None:
        data["payments"]["gateway"] = "stripe"
        data["payments"].pop("gateways", None)
        data["payments"]["stripe"] = gateway_table(stub.url, WEBHOOK_SECRET)
        data["store"].update(WITH_SUBSCRIPTION)

    try:
        async with build_shopfront(database_url, clock, only_stripe) as front:
            yield front, stub
    finally:
        await stub.close()


async def _deliver(front: Shopfront, clock: FakeClock, *bodies: bytes) -> None:
    """POST each event to /webhooks/stripe as Stripe signs it; then let effects run."""
    for body in bodies:
        headers = signed(body, WEBHOOK_SECRET, int(clock().timestamp()))
        async with front.http.post(
            f"{front.url}/webhooks/stripe", data=body, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
    await front.effects_delivered()


def _sent(stub: StripeStub, seen: int) -> list[bytes]:
    """What the stub would have sent since it had sent ``seen`` webhooks."""
    return stub.webhooks()[seen:]


def _types(bodies: list[bytes]) -> list[str]:
    return [json.loads(body)["type"] for body in bodies]


async def _buy(front: Shopfront, stub: StripeStub) -> dict[str, Any]:
    """Alice buys paid-monthly through the bot and pays on the Stripe link; the session
    the stub completed (no webhook delivered yet)."""
    h, alice = front.harness, front.alice
    added = await h.slash(alice, "cart", "add", options={"item": "paid-monthly"})
    assert added.embed["title"] == "Added to your cart"
    checkout = await h.slash(alice, "checkout")
    [pay] = [c for row in checkout.components for c in row["components"] if c.get("url")]
    assert pay["url"].startswith("https://checkout.stripe.com/c/pay/")
    return stub.pay(pay["url"].rsplit("/", 1)[1])


async def _subscribed(
    front: Shopfront, stub: StripeStub, clock: FakeClock
) -> tuple[dict[str, Any], SubscriptionRecord]:
    """Bought, paid and its checkout's webhooks delivered."""
    session = await _buy(front, stub)
    await _deliver(front, clock, *stub.webhooks())
    return session, await _record(front)


async def _record(front: Shopfront) -> SubscriptionRecord:
    [record] = await front.bot.shop.subscriptions.for_member(front.guild_id, front.alice.id)
    return record


async def _ends(front: Shopfront) -> datetime | None:
    account = await front.bot.shop.accounts.account(front.guild_id, front.alice.id, recent=0)
    return next((m.expires_at for m in account.memberships if m.tier == "paid"), None)


def _period_end(stub: StripeStub, subscription_id: str) -> datetime:
    [item] = stub.subscriptions[subscription_id]["items"]["data"]
    return datetime.fromtimestamp(item["current_period_end"], tz=UTC)


def _has_role(front: Shopfront) -> bool:
    return front.paid_role in front.world.member(front.alice.id).roles


async def test_the_checkout_and_its_first_invoice_start_the_subscription_with_one_period(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """checkout.session.completed and invoice.paid (subscription_create), each delivered
    twice: the order is paid once, the tier runs to Stripe's period end, not two months."""
    front, stub = stripe_front
    session = await _buy(front, stub)
    sent = stub.webhooks()
    assert _types(sent) == ["checkout.session.completed", "invoice.paid"]
    await _deliver(front, clock, *sent, *sent)

    record = await _record(front)
    assert (record.gateway, record.gateway_ref) == ("stripe", session["subscription"])
    assert (record.tier, record.status, record.amount) == ("paid", "active", 300)
    first_end = _period_end(stub, session["subscription"])
    assert (await _ends(front), record.current_period_end) == (first_end, first_end)
    assert _has_role(front)
    [order] = await front.bot.shop.orders.recent(front.guild_id, front.alice.id)
    assert order.state == "fulfilled"


async def test_two_members_subscribing_to_one_item_share_its_stripe_price(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """The bot names the item, so Stripe gets one Price for it, not one per checkout."""
    front, stub = stripe_front
    session, _ = await _subscribed(front, stub, clock)
    await front.harness.slash(front.bob, "cart", "add", options={"item": "paid-monthly"})
    await front.harness.slash(front.bob, "checkout")

    [price] = stub.prices.values()
    assert price["lookup_key"].endswith(":paid-monthly:month:300:usd")
    [item] = stub.subscriptions[session["subscription"]]["items"]["data"]
    assert item["price"]["id"] == price["id"]
    sessions = stub.calls("POST", "/v1/checkout/sessions")
    assert [call.params["line_items"] for call in sessions] == [
        [{"quantity": "1", "price": price["id"]}]
    ] * 2


async def test_a_renewal_extends_the_tier_by_one_month_once(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """The renewal's invoice.paid, delivered twice, moves the end to the next period once."""
    front, stub = stripe_front
    session, _ = await _subscribed(front, stub, clock)
    first_end = _period_end(stub, session["subscription"])
    clock.now = first_end
    seen = len(stub.webhooks())
    stub.renew(session["subscription"])
    renewal = _sent(stub, seen)
    assert _types(renewal) == ["invoice.paid", "customer.subscription.updated"]
    await _deliver(front, clock, *renewal, *renewal)

    second_end = _period_end(stub, session["subscription"])
    assert second_end.month == first_end.month % 12 + 1
    assert await _ends(front) == second_end
    record = await _record(front)
    assert (record.status, record.current_period_end) == (SubscriptionStatus.ACTIVE, second_end)


async def test_a_failed_renewal_is_past_due_and_tells_the_member_where_to_fix_it(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """invoice.payment_failed: past due, a DM with the member's own update-payment link,
    and the tier kept for the grace period."""
    front, stub = stripe_front
    session, record = await _subscribed(front, stub, clock)
    first_end = _period_end(stub, session["subscription"])
    clock.now = first_end
    seen = len(stub.webhooks())
    stub.renew(session["subscription"], fail=True)
    failed = _sent(stub, seen)
    assert _types(failed) == ["invoice.payment_failed", "customer.subscription.updated"]
    await _deliver(front, clock, *failed)

    assert (await _record(front)).status is SubscriptionStatus.PAST_DUE
    notices = [str(e) for e in front.dm_embeds(front.alice) if "could not renew" in str(e)]
    assert len(notices) == 1
    assert f"{front.url}/subscription/manage/{record.manage_token}" in notices[0]
    grace = timedelta(days=front.bot.shop.ctx.config.subscription_grace_days)
    assert await _ends(front) == first_end + grace
    assert _has_role(front)


async def test_cancelling_at_period_end_is_canceling_and_keeps_the_time_paid(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """The member cancels in the bot; Stripe's customer.subscription.updated
    (cancel_at_period_end) makes it canceling, the paid month untouched."""
    front, stub = stripe_front
    session, record = await _subscribed(front, stub, clock)
    first_end = _period_end(stub, session["subscription"])
    seen = len(stub.webhooks())
    await front.bot.flow.renewals.cancel(front.guild_id, front.alice.id, record.id)
    assert stub.subscriptions[session["subscription"]]["cancel_at_period_end"] is True
    updated = _sent(stub, seen)
    assert _types(updated) == ["customer.subscription.updated"]
    await _deliver(front, clock, *updated)

    after = await _record(front)
    assert (after.status, after.cancel_at_period_end) == (SubscriptionStatus.CANCELING, True)
    assert await _ends(front) == first_end


async def test_a_cancellation_in_the_billing_portal_is_canceling_too(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """The portal sets cancel_at to the period's end instead of the flag."""
    front, stub = stripe_front
    session, _ = await _subscribed(front, stub, clock)
    seen = len(stub.webhooks())
    stub.cancel_in_portal(session["subscription"])
    await _deliver(front, clock, *_sent(stub, seen))
    assert (await _record(front)).status is SubscriptionStatus.CANCELING


async def test_the_subscription_deleted_at_stripe_ends_it_with_the_time_paid(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """customer.subscription.deleted at the period's end: ended, and the tier runs out
    when the paid month does."""
    front, stub = stripe_front
    session, _ = await _subscribed(front, stub, clock)
    first_end = _period_end(stub, session["subscription"])
    clock.now = first_end
    seen = len(stub.webhooks())
    stub.end(session["subscription"])
    ended = _sent(stub, seen)
    assert _types(ended) == ["customer.subscription.deleted"]
    await _deliver(front, clock, *ended)

    assert (await _record(front)).status is SubscriptionStatus.ENDED
    assert await _ends(front) == first_end


async def test_resuming_in_the_bot_undoes_a_portal_cancellation(
    stripe_front: tuple[Shopfront, StripeStub], clock: FakeClock
) -> None:
    """Resume clears Stripe's cancel_at; its update makes the subscription active again."""
    front, stub = stripe_front
    session, record = await _subscribed(front, stub, clock)
    seen = len(stub.webhooks())
    stub.cancel_in_portal(session["subscription"])
    await _deliver(front, clock, *_sent(stub, seen))
    clock.advance(minutes=5)  # Stripe dates events in seconds; the store lets a tie cancel
    seen = len(stub.webhooks())
    await front.bot.flow.renewals.resume(front.guild_id, front.alice.id, record.id)
    assert stub.subscriptions[session["subscription"]]["cancel_at"] is None
    await _deliver(front, clock, *_sent(stub, seen))
    assert (await _record(front)).status is SubscriptionStatus.ACTIVE
