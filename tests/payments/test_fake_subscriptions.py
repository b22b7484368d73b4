"""Subscriptions on the fake gateway, over HTTP: its pages, its buttons and its webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from payments_harness import FakeShop

from payments.errors import GatewayError, WebhookVerificationError
from payments.fake import FaultPlan, add_intervals
from payments.models import CheckoutLine, EventKind, GatewayEvent

pytestmark = pytest.mark.asyncio

FakeShopFactory = Callable[..., Any]

MONTHLY = CheckoutLine("Gold, every month", 1, 300, interval="month")
SETUP = CheckoutLine("Welcome pack", 1, 150)


@pytest_asyncio.fixture
async def fake_shop(make_fake_shop: FakeShopFactory) -> FakeShop:
    """A shop whose webhooks still verify after the clock moved on by months.

    These tests read every webhook at the end, after moving the clock; the shop itself
    verifies each as it arrives. Signature windows are tested in test_webhook_signing.
    """
    shop: FakeShop = await make_fake_shop(signature_tolerance_seconds=5 * 366 * 24 * 3600)
    return shop


async def _post(shop: FakeShop, path: str, **kw: Any) -> tuple[int, Any]:
    headers = {"Accept": "application/json", **kw.pop("headers", {})}
    async with shop.http.post(f"{shop.shop.url}{path}", headers=headers, **kw) as response:
        return response.status, await response.json()


async def _get(shop: FakeShop, path: str) -> Any:
    async with shop.http.get(f"{shop.shop.url}{path}") as response:
        assert response.status == 200
        return await response.json()


async def _subscribe(shop: FakeShop, *lines: CheckoutLine, order_id: str = "order-1") -> str:
    """Pay a subscription checkout on the hosted page; returns the new subscription's id."""
    session = await shop.gateway.create_checkout(
        shop.request(order_id=order_id, lines=lines or (MONTHLY,))
    )
    status, state = await _post(shop, f"/fake-gateway/sessions/{session.session_id}/pay")
    assert status == 200
    subscription_id: str = state["subscription_id"]
    return subscription_id


async def _events(shop: FakeShop) -> list[GatewayEvent]:
    await shop.gateway.drain()
    return shop.events()


async def _events_after_checkout(shop: FakeShop) -> list[GatewayEvent]:
    """What arrived after the checkout's own payment_succeeded and first invoice_paid."""
    return (await _events(shop))[2:]


async def _pass_period_end(shop: FakeShop, subscription_id: str) -> None:
    state = await _get(shop, f"/fake-gateway/subscriptions/{subscription_id}")
    shop.clock.current = datetime.fromisoformat(state["current_period_end"])
    status, _ = await _post(shop, "/fake-gateway/subscriptions/advance")
    assert status == 200


async def test_checkout_page_says_the_line_renews_every_month(fake_shop: FakeShop) -> None:
    """Nobody subscribes without seeing that the amount comes back every month."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request(lines=(MONTHLY,)))
    async with fake_shop.http.get(session.url) as response:
        html = await response.text()
    assert "€3.00 every month" in html


async def test_paying_a_subscription_checkout_names_the_new_subscription(
    fake_shop: FakeShop,
) -> None:
    """payment_succeeded carries the subscription id, then the first invoice is marked first."""
    subscription_id = await _subscribe(fake_shop, order_id="order-7")
    paid, first_invoice = await _events(fake_shop)
    assert (paid.kind, paid.order_id, paid.subscription_id) == (
        EventKind.PAYMENT_SUCCEEDED,
        "order-7",
        subscription_id,
    )
    assert (first_invoice.kind, first_invoice.first_invoice, first_invoice.order_id) == (
        EventKind.INVOICE_PAID,
        True,
        "order-7",
    )
    assert first_invoice.invoice_id and first_invoice.invoice_id == paid.invoice_id


async def test_the_first_period_ends_a_calendar_month_after_payment(fake_shop: FakeShop) -> None:
    """The period is counted on the gateway's clock, in calendar months."""
    fake_shop.clock.current = datetime(2030, 1, 31, 12, tzinfo=UTC)
    subscription_id = await _subscribe(fake_shop)
    state = await _get(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}")
    assert state["current_period_end"] == "2030-02-28T12:00:00+00:00"


async def test_nothing_is_billed_before_the_period_ends(fake_shop: FakeShop) -> None:
    """One second before the end, advancing bills nothing."""
    subscription_id = await _subscribe(fake_shop)
    state = await _get(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}")
    end = datetime.fromisoformat(state["current_period_end"])
    fake_shop.clock.current = end - timedelta(seconds=1)
    status, changed = await _post(fake_shop, "/fake-gateway/subscriptions/advance")
    assert (status, changed) == (200, [])
    assert await _events_after_checkout(fake_shop) == []


async def test_a_renewal_charges_the_recurring_lines_and_moves_the_period(
    fake_shop: FakeShop,
) -> None:
    """Once the clock passes the end, invoice_paid charges 3.00 (not the one-off pack) and
    reports the next period's end, without the checkout's session or order."""
    start = fake_shop.clock()
    subscription_id = await _subscribe(fake_shop, MONTHLY, SETUP)
    await _pass_period_end(fake_shop, subscription_id)
    [renewal] = await _events_after_checkout(fake_shop)
    assert (renewal.kind, renewal.amount, renewal.subscription_id, renewal.first_invoice) == (
        EventKind.INVOICE_PAID,
        300,
        subscription_id,
        False,
    )
    assert (renewal.session_id, renewal.order_id) == (None, None)
    assert renewal.period_end == add_intervals(start, "month", 2)


async def test_a_long_clock_jump_bills_every_period_passed(fake_shop: FakeShop) -> None:
    """Three months later, three renewals, each with its own invoice."""
    start = fake_shop.clock()
    subscription_id = await _subscribe(fake_shop)
    fake_shop.clock.current = add_intervals(start, "month", 3)
    assert fake_shop.gateway.advance_subscriptions()[0]["subscription_id"] == subscription_id
    renewals = await _events_after_checkout(fake_shop)
    assert [e.kind for e in renewals] == [EventKind.INVOICE_PAID] * 3
    assert len({e.invoice_id for e in renewals}) == 3


async def test_renew_now_bills_the_next_period_at_once(fake_shop: FakeShop) -> None:
    """The tester's "Renew now" needs no clock: the period moves one interval."""
    start = fake_shop.clock()
    subscription_id = await _subscribe(fake_shop)
    status, state = await _post(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}/renew")
    assert status == 200
    assert state["current_period_end"] == add_intervals(start, "month", 2).isoformat()
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [EventKind.INVOICE_PAID]


async def test_a_yearly_subscription_renews_a_year_later(fake_shop: FakeShop) -> None:
    """interval="year" counts calendar years."""
    start = fake_shop.clock()
    yearly = CheckoutLine("Gold, every year", 1, 3000, interval="year")
    subscription_id = await _subscribe(fake_shop, yearly)
    await _post(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}/renew")
    [renewal] = await _events_after_checkout(fake_shop)
    assert (renewal.amount, renewal.period_end) == (3000, add_intervals(start, "year", 2))


async def test_fail_next_renewal_reports_the_invoice_failed(fake_shop: FakeShop) -> None:
    """With "fail the next renewal" set, the renewal is invoice_failed and past due."""
    subscription_id = await _subscribe(fake_shop)
    base = f"/fake-gateway/subscriptions/{subscription_id}"
    await _post(fake_shop, f"{base}/fail-next-renewal")
    await _pass_period_end(fake_shop, subscription_id)
    [failed] = await _events_after_checkout(fake_shop)
    assert (failed.kind, failed.subscription_id, failed.amount) == (
        EventKind.INVOICE_FAILED,
        subscription_id,
        300,
    )
    assert (await _get(fake_shop, base))["status"] == "past_due"


async def test_a_past_due_subscription_is_not_billed_again(fake_shop: FakeShop) -> None:
    """While a renewal is unpaid, later periods wait for the member instead of piling up."""
    start = fake_shop.clock()
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.perform_subscription(subscription_id, "fail-next-renewal")
    fake_shop.clock.current = add_intervals(start, "month", 4)
    fake_shop.gateway.advance_subscriptions()
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [EventKind.INVOICE_FAILED]


async def test_fixing_payment_pays_the_open_invoice(fake_shop: FakeShop) -> None:
    """The manage page's button clears the failure and pays the failed invoice."""
    subscription_id = await _subscribe(fake_shop)
    base = f"/fake-gateway/subscriptions/{subscription_id}"
    await _post(fake_shop, f"{base}/fail-next-renewal")
    await _post(fake_shop, f"{base}/renew")
    status, state = await _post(fake_shop, f"{base}/fix-payment")
    assert (status, state["status"]) == (200, "active")
    failed, paid = await _events_after_checkout(fake_shop)
    assert (failed.kind, paid.kind) == (EventKind.INVOICE_FAILED, EventKind.INVOICE_PAID)
    assert paid.invoice_id == failed.invoice_id
    assert paid.period_end == failed.period_end


async def test_fixing_payment_before_the_renewal_clears_the_failure(fake_shop: FakeShop) -> None:
    """Updating the card before the renewal makes that renewal succeed."""
    subscription_id = await _subscribe(fake_shop)
    base = f"/fake-gateway/subscriptions/{subscription_id}"
    await _post(fake_shop, f"{base}/fail-next-renewal")
    await _post(fake_shop, f"{base}/fix-payment")
    await _post(fake_shop, f"{base}/renew")
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [EventKind.INVOICE_PAID]


async def test_cancel_at_period_end_reports_the_flag_then_the_end(fake_shop: FakeShop) -> None:
    """Cancel sends subscription_updated at once and subscription_ended, not an invoice,
    when the period is over."""
    subscription_id = await _subscribe(fake_shop)
    await _post(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}/cancel")
    await _pass_period_end(fake_shop, subscription_id)
    updated, ended = await _events_after_checkout(fake_shop)
    assert (updated.kind, updated.cancel_at_period_end) == (
        EventKind.SUBSCRIPTION_UPDATED,
        True,
    )
    assert (ended.kind, ended.subscription_id, ended.period_end) == (
        EventKind.SUBSCRIPTION_ENDED,
        subscription_id,
        updated.period_end,
    )


async def test_resume_before_the_end_keeps_it_renewing(fake_shop: FakeShop) -> None:
    """Resume clears the flag (subscription_updated) and the period renews as usual."""
    subscription_id = await _subscribe(fake_shop)
    base = f"/fake-gateway/subscriptions/{subscription_id}"
    await _post(fake_shop, f"{base}/cancel")
    await _post(fake_shop, f"{base}/resume")
    await _pass_period_end(fake_shop, subscription_id)
    events = await _events_after_checkout(fake_shop)
    assert [(e.kind, e.cancel_at_period_end) for e in events] == [
        (EventKind.SUBSCRIPTION_UPDATED, True),
        (EventKind.SUBSCRIPTION_UPDATED, False),
        (EventKind.INVOICE_PAID, False),
    ]


async def test_cancelling_twice_reports_one_change(fake_shop: FakeShop) -> None:
    """subscription_updated is sent only when cancel_at_period_end actually changes."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.cancel_subscription(subscription_id)
    await fake_shop.gateway.cancel_subscription(subscription_id)
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [
        EventKind.SUBSCRIPTION_UPDATED
    ]


async def test_cancel_now_ends_the_subscription_at_once(fake_shop: FakeShop) -> None:
    """cancel_subscription(at_period_end=False) reports the end immediately."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.cancel_subscription(subscription_id, at_period_end=False)
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [
        EventKind.SUBSCRIPTION_ENDED
    ]


async def test_an_ended_subscription_refuses_its_buttons(fake_shop: FakeShop) -> None:
    """After the end there is nothing to renew or resume: 409 with the reason."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.cancel_subscription(subscription_id, at_period_end=False)
    status, body = await _post(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}/resume")
    assert (status, body["error"]) == (409, "cannot resume a subscription that has ended")


async def test_resuming_an_ended_subscription_is_a_permanent_error(fake_shop: FakeShop) -> None:
    """The shop's resume button gets a clear refusal it must not retry."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.cancel_subscription(subscription_id, at_period_end=False)
    with pytest.raises(GatewayError) as caught:
        await fake_shop.gateway.resume_subscription(subscription_id)
    assert caught.value.transient is False


async def test_unknown_subscription_is_404(fake_shop: FakeShop) -> None:
    """Made-up subscription ids have neither state nor buttons."""
    status, _ = await _post(fake_shop, "/fake-gateway/subscriptions/fsub_nope/renew")
    assert status == 404


async def test_refunding_a_renewal_names_its_invoice_not_the_order(fake_shop: FakeShop) -> None:
    """A renewal's refund carries the invoice and subscription, and no session or order."""
    subscription_id = await _subscribe(fake_shop)
    state = await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    invoice_id = state["invoices"][-1]["invoice_id"]
    status, _ = await _post(fake_shop, f"/fake-gateway/invoices/{invoice_id}/refund")
    assert status == 200
    _, refund = await _events_after_checkout(fake_shop)
    assert (refund.kind, refund.invoice_id, refund.subscription_id, refund.amount) == (
        EventKind.REFUND_SUCCEEDED,
        invoice_id,
        subscription_id,
        300,
    )
    assert (refund.session_id, refund.order_id, refund.first_invoice) == (None, None, False)


async def test_losing_a_dispute_over_a_renewal_reports_opened_then_lost(
    fake_shop: FakeShop,
) -> None:
    """The one-press "dispute (lost)" sends both facts about that invoice."""
    subscription_id = await _subscribe(fake_shop)
    state = await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    invoice_id = state["invoices"][-1]["invoice_id"]
    await _post(fake_shop, f"/fake-gateway/invoices/{invoice_id}/dispute-lost")
    _, opened, lost = await _events_after_checkout(fake_shop)
    assert [(e.kind, e.invoice_id) for e in (opened, lost)] == [
        (EventKind.DISPUTE_OPENED, invoice_id),
        (EventKind.DISPUTE_LOST, invoice_id),
    ]


async def test_refunding_the_first_invoice_is_the_orders_refund(fake_shop: FakeShop) -> None:
    """The first invoice's refund is the checkout's: session and order set, marked first."""
    subscription_id = await _subscribe(fake_shop, order_id="order-3")
    state = await _get(fake_shop, f"/fake-gateway/subscriptions/{subscription_id}")
    first = state["invoices"][0]["invoice_id"]
    await _post(fake_shop, f"/fake-gateway/invoices/{first}/refund", json={"amount": 100})
    [refund] = await _events_after_checkout(fake_shop)
    assert (refund.kind, refund.order_id, refund.first_invoice, refund.amount) == (
        EventKind.REFUND_SUCCEEDED,
        "order-3",
        True,
        100,
    )
    assert fake_shop.gateway.session(refund.session_id or "")["refunded"] == 100


async def test_a_renewal_cannot_be_refunded_twice_over(fake_shop: FakeShop) -> None:
    """More than the invoice's amount is refused."""
    subscription_id = await _subscribe(fake_shop)
    state = await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    invoice_id = state["invoices"][-1]["invoice_id"]
    await _post(fake_shop, f"/fake-gateway/invoices/{invoice_id}/refund")
    status, _ = await _post(fake_shop, f"/fake-gateway/invoices/{invoice_id}/refund")
    assert status == 409


async def test_manage_page_shows_the_price_the_renewal_and_the_way_back(
    fake_shop: FakeShop,
) -> None:
    """manage_url leads to the fake's portal, which links back where the shop asked."""
    fake_shop.clock.current = datetime(2030, 3, 5, 9, tzinfo=UTC)
    subscription_id = await _subscribe(fake_shop)
    url = await fake_shop.gateway.manage_url(subscription_id, "https://shop.test/account")
    async with fake_shop.http.get(url) as response:
        html = await response.text()
    assert "€3.00 every month" in html
    assert "Renews on 05 April 2030" in html
    assert '<a href="https://shop.test/account">' in html


async def test_manage_url_refuses_a_return_url_that_is_not_http(fake_shop: FakeShop) -> None:
    """The way back is a link on the page, so only http(s) is accepted."""
    subscription_id = await _subscribe(fake_shop)
    with pytest.raises(GatewayError):
        await fake_shop.gateway.manage_url(subscription_id, "javascript:alert(1)")


async def test_manage_page_button_returns_to_the_page(fake_shop: FakeShop) -> None:
    """A browser pressing a button (a form post) comes back to the manage page."""
    subscription_id = await _subscribe(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/subscriptions/{subscription_id}/cancel"
    async with fake_shop.http.post(url, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"/fake-gateway/manage/{subscription_id}"


async def test_manage_page_of_a_failed_renewal_offers_to_update_payment(
    fake_shop: FakeShop,
) -> None:
    """A past-due subscription's page says so and shows the fix button."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.perform_subscription(subscription_id, "fail-next-renewal")
    await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    url = await fake_shop.gateway.manage_url(subscription_id, "https://shop.test/account")
    async with fake_shop.http.get(url) as response:
        html = await response.text()
    assert "Renewal payment failed" in html
    assert ">Update payment details</button>" in html


async def test_another_site_cannot_press_a_subscription_button(fake_shop: FakeShop) -> None:
    """The same cross-site guard as the checkout's buttons."""
    subscription_id = await _subscribe(fake_shop)
    status, _ = await _post(
        fake_shop,
        f"/fake-gateway/subscriptions/{subscription_id}/cancel",
        headers={"Origin": "https://evil.example"},
    )
    assert status == 403


async def test_duplicate_fault_applies_to_renewals(fake_shop: FakeShop) -> None:
    """The usual fault switches apply: a duplicated invoice_paid arrives twice, one id."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.drain()
    fake_shop.gateway.faults = FaultPlan(duplicate=True)
    await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    first, again = await _events_after_checkout(fake_shop)
    assert first.kind == EventKind.INVOICE_PAID
    assert first.event_id == again.event_id


async def test_reorder_fault_delivers_a_refund_before_its_renewal(fake_shop: FakeShop) -> None:
    """Reordering swaps a renewal with the refund that follows it."""
    subscription_id = await _subscribe(fake_shop)
    await fake_shop.gateway.drain()
    fake_shop.gateway.faults = FaultPlan(reorder=True)
    state = await fake_shop.gateway.perform_subscription(subscription_id, "renew")
    await fake_shop.gateway.perform_invoice(state["invoices"][-1]["invoice_id"], "refund")
    assert [e.kind for e in await _events_after_checkout(fake_shop)] == [
        EventKind.REFUND_SUCCEEDED,
        EventKind.INVOICE_PAID,
    ]


async def test_reconciling_a_paid_subscription_checkout_names_the_subscription(
    fake_shop: FakeShop,
) -> None:
    """A lost payment webhook found by reconciliation still says which subscription."""
    subscription_id = await _subscribe(fake_shop)
    state = await fake_shop.gateway.fetch_session(
        fake_shop.gateway.subscription(subscription_id)["session_id"]
    )
    event = state.as_event("fake", fake_shop.clock())
    assert event is not None and event.subscription_id == subscription_id


async def test_subscriptions_survive_a_restart_with_a_state_path(
    make_fake_shop: FakeShopFactory, tmp_path: Path
) -> None:
    """A restarted fake still renews the subscriptions it had."""
    path = tmp_path / "fake-gateway.json"
    before: FakeShop = await make_fake_shop(state_path=str(path))
    subscription_id = await _subscribe(before)
    await before.gateway.drain()
    after: FakeShop = await make_fake_shop(state_path=str(path))
    state = await after.gateway.perform_subscription(subscription_id, "renew")
    assert [i["status"] for i in state["invoices"]] == ["paid", "paid"]


async def test_unknown_subscription_has_no_manage_page(fake_shop: FakeShop) -> None:
    """A made-up id in the portal link is not found."""
    async with fake_shop.http.get(f"{fake_shop.shop.url}/fake-gateway/manage/fsub_nope") as r:
        assert r.status == 404


async def test_a_signed_event_with_a_naive_period_end_is_refused(fake_shop: FakeShop) -> None:
    """Well signed but malformed subscription fields are not trusted either."""
    body, headers = fake_shop.gateway.render_webhook(
        {
            "id": "evt_1",
            "type": "invoice_paid",
            "created": int(fake_shop.clock().timestamp()),
            "data": {
                "session_id": None,
                "order_id": None,
                "amount": 300,
                "currency": "EUR",
                "subscription_id": "fsub_1",
                "invoice_id": "fin_1",
                "period_end": "2030-02-01T00:00:00",
            },
        }
    )
    with pytest.raises(WebhookVerificationError):
        fake_shop.gateway.verify_webhook(body, headers)
