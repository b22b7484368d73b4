"""The fake gateway through its Python interface: sessions, expiry, refunds, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from payments_harness import FakeShop

from payments.errors import GatewayError
from payments.models import EventKind

pytestmark = pytest.mark.asyncio

FakeShopFactory = Callable[..., Any]


async def test_same_idempotency_key_gives_the_same_session(fake_shop: FakeShop) -> None:
    """Retrying a checkout with the same key returns the session already created."""
    first = await fake_shop.gateway.create_checkout(fake_shop.request(key="cart-7-v3"))
    again = await fake_shop.gateway.create_checkout(fake_shop.request(key="cart-7-v3"))
    assert again == first


async def test_new_idempotency_key_gives_a_new_session(fake_shop: FakeShop) -> None:
    """A different key (say, a changed cart) opens a different session."""
    first = await fake_shop.gateway.create_checkout(fake_shop.request(key="cart-7-v3"))
    other = await fake_shop.gateway.create_checkout(fake_shop.request(key="cart-7-v4"))
    assert other.session_id != first.session_id


async def test_reusing_a_key_with_other_parameters_is_refused(fake_shop: FakeShop) -> None:
    """Like Stripe, one key cannot stand for two different checkouts."""
    await fake_shop.gateway.create_checkout(fake_shop.request(key="k"))
    with pytest.raises(GatewayError) as caught:
        await fake_shop.gateway.create_checkout(fake_shop.request(key="k", currency="USD"))
    assert caught.value.transient is False


async def test_session_url_is_the_page_under_the_public_url(fake_shop: FakeShop) -> None:
    """The hosted page lives in the shop's own web app."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    assert session.url == f"{fake_shop.shop.url}/fake-gateway/checkout/{session.session_id}"


async def test_expiry_is_capped_by_the_configured_ttl(make_fake_shop: FakeShopFactory) -> None:
    """A session never outlives checkout_ttl_minutes, whatever the request asks."""
    shop: FakeShop = await make_fake_shop(checkout_ttl_minutes=30)
    session = await shop.gateway.create_checkout(
        shop.request(expires_at=shop.clock() + timedelta(hours=5))
    )
    assert session.expires_at == shop.clock() + timedelta(minutes=30)


async def test_session_past_its_expiry_is_expired_when_looked_at(fake_shop: FakeShop) -> None:
    """Moving the clock past expires_at expires the session and reports it."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    fake_shop.clock.advance(timedelta(hours=1))
    state = await fake_shop.gateway.fetch_session(session.session_id)
    await fake_shop.gateway.drain()
    assert state.status == "expired"
    assert [e.kind for e in fake_shop.events()] == [EventKind.CHECKOUT_EXPIRED]


async def test_an_expired_session_cannot_be_paid(fake_shop: FakeShop) -> None:
    """Once expired, the link is dead."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    fake_shop.clock.advance(timedelta(hours=2))
    with pytest.raises(GatewayError, match="cannot pay a session that is expired"):
        await fake_shop.gateway.perform(session.session_id, "pay")


async def test_session_just_before_expiry_can_still_be_paid(fake_shop: FakeShop) -> None:
    """One second before expires_at the member can still pay."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    fake_shop.clock.advance(timedelta(minutes=59, seconds=59))
    state = await fake_shop.gateway.perform(session.session_id, "pay")
    assert state["status"] == "paid"


async def test_fetch_session_reports_paid_amount_and_order(fake_shop: FakeShop) -> None:
    """The authoritative state after payment is complete and paid, with our ids."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request(order_id="o-9"))
    await fake_shop.gateway.perform(session.session_id, "pay")
    state = await fake_shop.gateway.fetch_session(session.session_id)
    assert (state.status, state.paid, state.order_id, state.amount, state.currency) == (
        "complete",
        True,
        "o-9",
        900,
        "EUR",
    )


async def test_a_bounced_delayed_payment_is_complete_and_failed(
    make_fake_shop: FakeShopFactory,
) -> None:
    """Declining a pending payment leaves a completed session marked failed."""
    shop: FakeShop = await make_fake_shop(pay_later_settle_seconds=60)
    session = await shop.gateway.create_checkout(shop.request())
    await shop.gateway.perform(session.session_id, "pay-later")
    await shop.gateway.perform(session.session_id, "decline")
    state = await shop.gateway.fetch_session(session.session_id)
    assert (state.status, state.paid, state.payment_failed) == ("complete", False, True)


async def test_refund_with_the_same_key_refunds_once(fake_shop: FakeShop) -> None:
    """A retried refund call with the same idempotency key does not refund twice."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    await fake_shop.gateway.perform(session.session_id, "pay")
    first = await fake_shop.gateway.refund(session.session_id, 200, "refund-1")
    again = await fake_shop.gateway.refund(session.session_id, 200, "refund-1")
    assert again == first
    assert fake_shop.gateway.session(session.session_id)["refunded"] == 200


async def test_refunding_an_unpaid_session_is_a_permanent_error(fake_shop: FakeShop) -> None:
    """There is nothing to refund before payment."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    with pytest.raises(GatewayError) as caught:
        await fake_shop.gateway.refund(session.session_id, None, "refund-1")
    assert caught.value.transient is False


async def test_expire_session_on_a_paid_session_is_refused(fake_shop: FakeShop) -> None:
    """Paid wins over expiry."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    await fake_shop.gateway.perform(session.session_id, "pay")
    with pytest.raises(GatewayError, match="cannot expire a session that is paid"):
        await fake_shop.gateway.expire_session(session.session_id)


async def test_expire_session_twice_reports_one_expiry(fake_shop: FakeShop) -> None:
    """Expiring an already expired session is a harmless no-op."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    await fake_shop.gateway.expire_session(session.session_id)
    await fake_shop.gateway.expire_session(session.session_id)
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [EventKind.CHECKOUT_EXPIRED]


async def test_fetching_an_unknown_session_is_a_permanent_error(fake_shop: FakeShop) -> None:
    """A session id the gateway never issued is not silently treated as open."""
    with pytest.raises(GatewayError) as caught:
        await fake_shop.gateway.fetch_session("fs_unknown")
    assert caught.value.transient is False


async def test_sessions_survive_a_restart_with_a_state_path(
    make_fake_shop: FakeShopFactory, tmp_path: Path
) -> None:
    """With state_path set, a restarted app still knows its sessions."""
    path = tmp_path / "fake-gateway.json"
    before: FakeShop = await make_fake_shop(state_path=str(path))
    session = await before.gateway.create_checkout(before.request(key="k1"))
    await before.gateway.perform(session.session_id, "pay")
    await before.gateway.drain()
    after: FakeShop = await make_fake_shop(state_path=str(path))
    assert (await after.gateway.fetch_session(session.session_id)).paid is True
    again = await after.gateway.create_checkout(before.request(key="k1"))
    assert again.session_id == session.session_id


async def test_undelivered_webhooks_resume_after_a_restart(
    make_fake_shop: FakeShopFactory, tmp_path: Path
) -> None:
    """A webhook still being retried when the app stops is delivered after it starts again."""
    path = tmp_path / "fake-gateway.json"
    before: FakeShop = await make_fake_shop(
        state_path=str(path), retry_backoff_seconds=30, max_delivery_attempts=2
    )
    before.shop.statuses.append(500)
    session = await before.gateway.create_checkout(before.request())
    await before.gateway.perform(session.session_id, "pay")
    async with asyncio.timeout(3):
        await before.shop.wait_for(1)
    await before.gateway.close()
    after: FakeShop = await make_fake_shop(state_path=str(path))
    await after.gateway.drain()
    assert [e.kind for e in after.events()] == [EventKind.PAYMENT_SUCCEEDED]


async def test_reconciling_a_paid_session_gives_a_stable_success_event(
    fake_shop: FakeShop,
) -> None:
    """The reconciler's event for a paid session is the same however often it looks."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request(order_id="o-3"))
    await fake_shop.gateway.perform(session.session_id, "pay")
    now = fake_shop.clock()
    first = (await fake_shop.gateway.fetch_session(session.session_id)).as_event("fake", now)
    later = (await fake_shop.gateway.fetch_session(session.session_id)).as_event("fake", now)
    assert first is not None and later is not None
    assert first.kind == EventKind.PAYMENT_SUCCEEDED
    assert first.event_id == later.event_id == f"reconcile:{session.session_id}:payment_succeeded"
