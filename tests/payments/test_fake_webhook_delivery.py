"""How the fake delivers webhooks: retries, and each fault switch as the shop sees it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from payments_harness import FakeShop

from payments.errors import WebhookVerificationError
from payments.fake import FaultPlan
from payments.models import EventKind

pytestmark = pytest.mark.asyncio

FakeShopFactory = Callable[..., Any]


async def _paid(shop: FakeShop, order_id: str = "order-1") -> str:
    session = await shop.gateway.create_checkout(shop.request(order_id=order_id))
    await shop.gateway.perform(session.session_id, "pay")
    await shop.gateway.drain()
    return session.session_id


def _ids(shop: FakeShop) -> list[str]:
    return [json.loads(item.body)["id"] for item in shop.received]


async def test_webhook_is_signed_and_sent_to_the_gateway_path(fake_shop: FakeShop) -> None:
    """Each webhook carries a Storefront-Signature the shop can verify."""
    await _paid(fake_shop)
    [item] = fake_shop.received
    assert item.headers["Storefront-Signature"].startswith("t=")
    assert [e.kind for e in fake_shop.events()] == [EventKind.PAYMENT_SUCCEEDED]


async def test_failed_delivery_is_retried_until_it_succeeds(fake_shop: FakeShop) -> None:
    """Two 500 answers are followed by a third attempt, of the same event."""
    fake_shop.shop.statuses.extend([500, 500])
    await _paid(fake_shop)
    [delivery] = fake_shop.gateway.deliveries
    assert (delivery.status, delivery.responses) == ("delivered", [500, 500, 200])
    assert len(set(_ids(fake_shop))) == 1


async def test_delivery_gives_up_after_max_attempts(make_fake_shop: FakeShopFactory) -> None:
    """A receiver that keeps failing gets exactly max_delivery_attempts tries."""
    shop: FakeShop = await make_fake_shop(max_delivery_attempts=3)
    shop.shop.statuses.extend([500] * 5)
    await _paid(shop)
    [delivery] = shop.gateway.deliveries
    assert (delivery.status, delivery.attempts) == ("failed", 3)


async def test_a_receiver_that_times_out_gets_a_retry(make_fake_shop: FakeShopFactory) -> None:
    """A delivery that exceeds the timeout counts as failed and is retried."""
    shop: FakeShop = await make_fake_shop(delivery_timeout_seconds=0.2)
    shop.shop.stall_seconds.append(0.5)
    await _paid(shop)
    [delivery] = shop.gateway.deliveries
    assert (delivery.status, delivery.responses) == ("delivered", [None, 200])


async def test_later_events_wait_for_earlier_ones(fake_shop: FakeShop) -> None:
    """Without faults, events arrive in the order they happened."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    await fake_shop.gateway.perform(session.session_id, "pay")
    await fake_shop.gateway.perform(session.session_id, "refund", 100)
    await fake_shop.gateway.perform(session.session_id, "dispute")
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [
        EventKind.PAYMENT_SUCCEEDED,
        EventKind.REFUND_SUCCEEDED,
        EventKind.DISPUTE_OPENED,
    ]


async def test_duplicate_fault_sends_the_same_event_twice(fake_shop: FakeShop) -> None:
    """With duplicate on, the shop receives one event id twice."""
    fake_shop.gateway.faults = FaultPlan(duplicate=True)
    await _paid(fake_shop)
    ids = _ids(fake_shop)
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_reorder_fault_swaps_an_event_with_the_next(fake_shop: FakeShop) -> None:
    """With reorder on, the refund arrives before the payment it refunds."""
    fake_shop.gateway.faults = FaultPlan(reorder=True)
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    await fake_shop.gateway.perform(session.session_id, "pay")
    await fake_shop.gateway.perform(session.session_id, "refund")
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [
        EventKind.REFUND_SUCCEEDED,
        EventKind.PAYMENT_SUCCEEDED,
    ]


async def test_a_held_event_is_released_by_drain(fake_shop: FakeShop) -> None:
    """An event held back for reordering is not lost when no later event comes."""
    fake_shop.gateway.faults = FaultPlan(reorder=True)
    await _paid(fake_shop)
    assert [e.kind for e in fake_shop.events()] == [EventKind.PAYMENT_SUCCEEDED]


async def test_delay_fault_holds_the_delivery_back(fake_shop: FakeShop) -> None:
    """With a delay set, the webhook arrives no sooner than the delay."""
    fake_shop.gateway.faults = FaultPlan(delay_seconds=0.3)
    started = time.monotonic()
    await _paid(fake_shop)
    assert time.monotonic() - started >= 0.3
    assert len(fake_shop.received) == 1


async def test_drop_fault_never_sends(fake_shop: FakeShop) -> None:
    """A dropped event is recorded as such and never reaches the shop."""
    fake_shop.gateway.faults = FaultPlan(drop=True)
    session_id = await _paid(fake_shop)
    assert fake_shop.received == []
    assert [d.status for d in fake_shop.gateway.deliveries] == ["dropped"]
    assert (await fake_shop.gateway.fetch_session(session_id)).paid is True


async def test_bad_signature_fault_is_rejected_by_verification(fake_shop: FakeShop) -> None:
    """A badly signed delivery arrives but does not verify."""
    fake_shop.gateway.faults = FaultPlan(bad_signature=True)
    await _paid(fake_shop)
    [item] = fake_shop.received
    with pytest.raises(WebhookVerificationError):
        fake_shop.gateway.verify_webhook(item.body, item.headers)


async def test_amount_fault_reports_one_unit_less(fake_shop: FakeShop) -> None:
    """A tampered amount is validly signed, so the shop's own amount check must catch it."""
    fake_shop.gateway.faults = FaultPlan(amount_delta=-1)
    await _paid(fake_shop)
    assert [e.amount for e in fake_shop.events()] == [899]


async def test_currency_fault_reports_another_currency(fake_shop: FakeShop) -> None:
    """A tampered currency reaches the shop as a verified event."""
    fake_shop.gateway.faults = FaultPlan(currency="USD")
    await _paid(fake_shop)
    assert [e.currency for e in fake_shop.events()] == ["USD"]


async def test_order_id_fault_names_another_order(fake_shop: FakeShop) -> None:
    """A wrong order id reaches the shop as a verified event."""
    fake_shop.gateway.faults = FaultPlan(order_id="someone-elses-order")
    await _paid(fake_shop)
    assert [e.order_id for e in fake_shop.events()] == ["someone-elses-order"]


async def test_faults_can_target_one_event_type(fake_shop: FakeShop) -> None:
    """Faults limited to refunds leave the payment event alone."""
    fake_shop.gateway.faults = FaultPlan(
        amount_delta=-1, event_types=frozenset({EventKind.REFUND_SUCCEEDED})
    )
    session_id = await _paid(fake_shop)
    await fake_shop.gateway.perform(session_id, "refund", 100)
    await fake_shop.gateway.drain()
    assert [e.amount for e in fake_shop.events()] == [900, 99]


async def test_faults_can_be_set_over_http(fake_shop: FakeShop) -> None:
    """Scripts switch faults with a JSON POST to /fake-gateway/faults."""
    url = f"{fake_shop.shop.url}/fake-gateway/faults"
    async with fake_shop.http.post(url, json={"drop": True}) as response:
        assert response.status == 200
    await _paid(fake_shop)
    assert fake_shop.received == []


async def test_unknown_fault_switch_is_a_bad_request(fake_shop: FakeShop) -> None:
    """A misspelt fault is refused instead of silently ignored."""
    url = f"{fake_shop.shop.url}/fake-gateway/faults"
    async with fake_shop.http.post(url, json={"dorp": True}) as response:
        assert response.status == 400


async def test_close_stops_deliveries_in_progress(make_fake_shop: FakeShopFactory) -> None:
    """close() cancels a delivery waiting to retry instead of hanging on it."""
    shop: FakeShop = await make_fake_shop(retry_backoff_seconds=60)
    shop.shop.statuses.append(500)
    session = await shop.gateway.create_checkout(shop.request())
    await shop.gateway.perform(session.session_id, "pay")
    async with asyncio.timeout(3):
        await shop.shop.wait_for(1)
        await shop.gateway.close()
