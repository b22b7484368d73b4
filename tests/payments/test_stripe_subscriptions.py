"""Subscriptions on Stripe, against the local Stripe stub over loopback HTTP.

The events are compared with what the fake gateway reports for the same moments, since
the shop treats both alike: the checkout and its first invoice are the order's, every
later invoice and the subscription's changes are the subscription's alone.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from payments_harness import STRIPE_WEBHOOK_SECRET, Clock, checkout_request
from stripe_api_stub import StripeStub, signed

from payments.errors import GatewayError
from payments.models import CheckoutLine, CheckoutRequest, EventKind, GatewayEvent
from payments.stripe_gateway import StripeGateway

pytestmark = pytest.mark.asyncio

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FIRST_PERIOD_END = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
SECOND_PERIOD_END = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture(autouse=True)
def stub_clock(stripe_stub: StripeStub, clock: Clock) -> None:
    stripe_stub.clock = lambda: int(clock().timestamp())


def subscription_request(clock: Clock, interval: Any = "month") -> CheckoutRequest:
    """Gold every month (5.00) plus 500 points once (1.99): 6.99 now, 5.00 each renewal."""
    return checkout_request(
        clock,
        lines=(CheckoutLine("Gold, monthly", 1, 500, interval), CheckoutLine("500 points", 1, 199)),
        total=699,
        instance_id="production",
    )


async def subscribe(gateway: StripeGateway, stub: StripeStub, clock: Clock) -> dict[str, Any]:
    """Open and pay a subscription checkout; returns the completed session."""
    session = await gateway.create_checkout(subscription_request(clock))
    return stub.pay(session.session_id)


async def received(
    gateway: StripeGateway, stub: StripeStub, clock: Clock, event_type: str
) -> list[GatewayEvent]:
    """The stub's last ``event_type`` webhook, verified and resolved as the shop does."""
    body = [b for b in stub.webhooks() if json.loads(b)["type"] == event_type][-1]
    return await deliver(gateway, clock, body)


async def deliver(gateway: StripeGateway, clock: Clock, body: bytes) -> list[GatewayEvent]:
    headers = signed(body, STRIPE_WEBHOOK_SECRET, int(clock().timestamp()))
    return [await gateway.resolve_event(e) for e in gateway.verify_webhook(body, headers)]


def _created(stub: StripeStub) -> dict[str, Any]:
    [call] = stub.calls("POST", "/v1/checkout/sessions")
    return call.params


# -- the checkout -------------------------------------------------------------------


async def test_recurring_lines_open_a_subscription_mode_session(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A recurring line is a monthly inline price; a one-off line rides on the first invoice."""
    await stripe_gateway.create_checkout(subscription_request(clock))
    params = _created(stripe_stub)
    assert params["mode"] == "subscription"
    assert params["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "500",
                "product_data": {"name": "Gold, monthly"},
                "recurring": {"interval": "month"},
            },
        },
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "199",
                "product_data": {"name": "500 points"},
            },
        },
    ]


async def test_a_yearly_line_asks_for_a_yearly_price(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The interval travels as Stripe's recurring.interval."""
    await stripe_gateway.create_checkout(subscription_request(clock, "year"))
    assert _created(stripe_stub)["line_items"][0]["price_data"]["recurring"] == {"interval": "year"}


async def test_subscription_checkout_gives_the_subscription_our_ids(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Order and deployment are on the session and copied to the subscription, so its
    renewal invoices still say which deployment sold it."""
    await stripe_gateway.create_checkout(subscription_request(clock))
    params = _created(stripe_stub)
    ours = {"order_id": "order-17", "instance_id": "production"}
    assert params["metadata"] == ours
    assert params["subscription_data"] == {"metadata": ours, "description": "Order 17"}


async def test_subscription_checkout_sends_no_payment_intent_data(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Stripe refuses payment_intent_data in subscription mode."""
    await stripe_gateway.create_checkout(subscription_request(clock))
    assert "payment_intent_data" not in _created(stripe_stub)


async def test_one_off_checkout_stays_in_payment_mode(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Without a recurring line nothing about subscriptions is sent."""
    await stripe_gateway.create_checkout(checkout_request(clock))
    params = _created(stripe_stub)
    assert (params["mode"], "subscription_data" in params) == ("payment", False)


# -- one Price per item --------------------------------------------------------------


def item_request(
    clock: Clock, order: int = 17, amount: int = 500, currency: str = "EUR"
) -> CheckoutRequest:
    """Gold every month, sold as the catalog item ``gold-monthly``, plus 500 points once."""
    gold = CheckoutLine("Gold, monthly", 1, amount, "month", sku="gold-monthly")
    return checkout_request(
        clock,
        order_id=f"order-{order}",
        idempotency_key=f"production-order-{order}",
        lines=(gold, CheckoutLine("500 points", 1, 199, sku="points-500")),
        total=amount + 199,
        currency=currency,
        instance_id="production",
    )


def _line_items(stub: StripeStub) -> list[list[dict[str, Any]]]:
    return [call.params["line_items"] for call in stub.calls("POST", "/v1/checkout/sessions")]


async def test_an_items_recurring_line_names_a_price_found_by_its_lookup_key(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The Price is created once, keyed by deployment, item, interval, amount and currency;
    the one-off line stays inline."""
    await stripe_gateway.create_checkout(item_request(clock))
    [price] = stripe_stub.prices.values()
    assert price["lookup_key"] == "production:gold-monthly:month:500:eur"
    assert (price["unit_amount"], price["currency"], price["recurring"]["interval"]) == (
        500,
        "eur",
        "month",
    )
    [created] = stripe_stub.calls("POST", "/v1/prices")
    assert created.params["product_data"] == {"name": "Gold, monthly"}
    assert created.headers["Idempotency-Key"] == (
        "storefront-price-production:gold-monthly:month:500:eur"
    )
    [[recurring, one_off]] = _line_items(stripe_stub)
    assert recurring == {"quantity": "1", "price": price["id"]}
    assert one_off["price_data"]["unit_amount"] == "199"


async def test_two_checkouts_of_one_item_share_one_price(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The second finds the first's Price by its lookup key and creates nothing."""
    await stripe_gateway.create_checkout(item_request(clock, order=17))
    await stripe_gateway.create_checkout(item_request(clock, order=18))
    assert len(stripe_stub.calls("POST", "/v1/prices")) == 1
    [first, second] = _line_items(stripe_stub)
    assert first[0]["price"] == second[0]["price"]


async def test_a_changed_amount_makes_a_new_price_and_leaves_the_old_one(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Running subscriptions keep the Price they were sold at."""
    await stripe_gateway.create_checkout(item_request(clock, order=17, amount=500))
    await stripe_gateway.create_checkout(item_request(clock, order=18, amount=600))
    [first, second] = _line_items(stripe_stub)
    assert first[0]["price"] != second[0]["price"]
    assert sorted(p["lookup_key"] for p in stripe_stub.prices.values()) == [
        "production:gold-monthly:month:500:eur",
        "production:gold-monthly:month:600:eur",
    ]


async def test_a_changed_currency_makes_a_new_price(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    await stripe_gateway.create_checkout(item_request(clock, order=17, currency="EUR"))
    await stripe_gateway.create_checkout(item_request(clock, order=18, currency="USD"))
    assert sorted(p["currency"] for p in stripe_stub.prices.values()) == ["eur", "usd"]


async def test_an_archived_price_is_replaced_and_gives_up_its_lookup_key(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Archived in the dashboard, it cannot sell: a new Price takes the key over."""
    await stripe_gateway.create_checkout(item_request(clock, order=17))
    [old] = stripe_stub.prices
    stripe_stub.archive_price(old)
    await stripe_gateway.create_checkout(item_request(clock, order=18))
    [new] = [p for p in stripe_stub.prices.values() if p["lookup_key"] is not None]
    assert new["id"] != old and new["active"] is True
    assert _line_items(stripe_stub)[1][0]["price"] == new["id"]


async def test_a_price_created_but_not_answered_is_not_created_twice(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Stripe made the Price but its answer was lost: the retried checkout finds that
    Price and ends with one."""
    request = item_request(clock)
    stripe_stub.lost_answers.append("/v1/prices")
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.create_checkout(request)
    assert caught.value.transient is True
    await stripe_gateway.create_checkout(request)
    assert len(stripe_stub.prices) == 1
    [session] = stripe_stub.sessions.values()
    assert session["amount_total"] == 699


async def test_a_subscription_sold_at_an_items_price_renews_at_it(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The subscription's item is that Price, and each renewal bills its amount."""
    session = await stripe_gateway.create_checkout(item_request(clock))
    paid = stripe_stub.pay(session.session_id)
    [price] = stripe_stub.prices
    [item] = stripe_stub.subscriptions[paid["subscription"]]["items"]["data"]
    assert item["price"]["id"] == price
    clock.current = FIRST_PERIOD_END
    stripe_stub.renew(paid["subscription"])
    [event] = await received(stripe_gateway, stripe_stub, clock, "invoice.paid")
    assert (event.amount, event.period_end) == (500, SECOND_PERIOD_END)


async def test_paid_subscription_session_reads_back_its_subscription(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Reconciliation, its webhook lost, still learns which subscription started."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    state = await stripe_gateway.fetch_session(paid["id"])
    assert (state.paid, state.subscription_id) == (True, paid["subscription"])


# -- webhooks: the order's ------------------------------------------------------------


async def test_completed_subscription_checkout_is_the_orders_payment(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """payment_succeeded names the subscription, the invoice it paid and its period."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    [event] = await received(stripe_gateway, stripe_stub, clock, "checkout.session.completed")
    assert (event.kind, event.session_id, event.order_id, event.amount, event.currency) == (
        EventKind.PAYMENT_SUCCEEDED,
        paid["id"],
        "order-17",
        699,
        "EUR",
    )
    assert (event.subscription_id, event.invoice_id, event.first_invoice) == (
        paid["subscription"],
        paid["invoice"],
        True,
    )
    assert (event.period_end, event.instance_id) == (FIRST_PERIOD_END, "production")


async def test_first_invoice_paid_is_marked_as_the_checkouts(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """billing_reason subscription_create: the order's invoice, naming session and order."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    [event] = await received(stripe_gateway, stripe_stub, clock, "invoice.paid")
    assert (event.kind, event.first_invoice, event.invoice_id, event.amount) == (
        EventKind.INVOICE_PAID,
        True,
        paid["invoice"],
        699,
    )
    assert (event.session_id, event.order_id, event.period_end) == (
        paid["id"],
        "order-17",
        FIRST_PERIOD_END,
    )


async def test_refunding_a_subscription_order_refunds_its_first_invoice(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """In subscription mode the session has no payment intent: the invoice's is refunded."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    result = await stripe_gateway.refund(paid["id"], None, "refund-order-17")
    [call] = stripe_stub.calls("POST", "/v1/refunds")
    assert call.params["payment_intent"] == stripe_stub.intent_of(paid["invoice"])
    assert call.params["metadata"] == {
        "session_id": paid["id"],
        "order_id": "order-17",
        "instance_id": "production",
        "invoice_id": paid["invoice"],
        "subscription_id": paid["subscription"],
    }
    assert (result.amount, result.currency) == (699, "EUR")


async def test_our_refund_of_a_subscription_order_is_the_orders(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Its event names the order and is marked as the first invoice's, not a renewal's."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    result = await stripe_gateway.refund(paid["id"], 100, "refund-order-17")
    refund = {**stripe_stub.refunds[result.refund_id], "status": "succeeded"}
    [event] = await deliver(stripe_gateway, clock, stripe_stub.event("refund.created", refund))
    assert (event.kind, event.session_id, event.order_id, event.amount) == (
        EventKind.REFUND_SUCCEEDED,
        paid["id"],
        "order-17",
        100,
    )
    assert (event.subscription_id, event.invoice_id, event.first_invoice, event.period_end) == (
        paid["subscription"],
        paid["invoice"],
        True,
        FIRST_PERIOD_END,
    )


async def test_dashboard_refund_of_the_first_invoice_finds_the_order(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A refund without our metadata is traced: payment → invoice → subscription → checkout."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    refund = copy.deepcopy(stripe_stub.fixtures["refund"])
    refund.update(amount=699, currency="eur", payment_intent=stripe_stub.intent_of(paid["invoice"]))
    [event] = await deliver(stripe_gateway, clock, stripe_stub.event("refund.created", refund))
    assert (event.session_id, event.order_id, event.first_invoice, event.invoice_id) == (
        paid["id"],
        "order-17",
        True,
        paid["invoice"],
    )


# -- webhooks: the subscription's -------------------------------------------------------


async def test_paid_renewal_belongs_to_the_subscription_alone(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A renewal names no session nor order, charges the recurring lines only, and says
    which period it pays for and which deployment sold it."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    clock.current = FIRST_PERIOD_END
    invoice = stripe_stub.renew(paid["subscription"])
    [event] = await received(stripe_gateway, stripe_stub, clock, "invoice.paid")
    assert (event.kind, event.session_id, event.order_id, event.first_invoice) == (
        EventKind.INVOICE_PAID,
        None,
        None,
        False,
    )
    assert (event.subscription_id, event.invoice_id, event.amount, event.currency) == (
        paid["subscription"],
        invoice["id"],
        500,
        "EUR",
    )
    assert (event.period_end, event.instance_id) == (SECOND_PERIOD_END, "production")


async def test_failed_renewal_is_invoice_failed(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """invoice.payment_failed reports the amount due and the period it would have paid."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    clock.current = FIRST_PERIOD_END
    invoice = stripe_stub.renew(paid["subscription"], fail=True)
    [event] = await received(stripe_gateway, stripe_stub, clock, "invoice.payment_failed")
    assert (event.kind, event.subscription_id, event.invoice_id, event.amount) == (
        EventKind.INVOICE_FAILED,
        paid["subscription"],
        invoice["id"],
        500,
    )
    assert (event.order_id, event.period_end) == (None, SECOND_PERIOD_END)


async def test_dashboard_refund_of_a_renewal_names_its_invoice_not_the_order(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The refund is traced to the renewal invoice it took money from, and that period."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    invoice = stripe_stub.renew(paid["subscription"])
    refund = copy.deepcopy(stripe_stub.fixtures["refund"])
    refund.update(amount=500, currency="eur", payment_intent=stripe_stub.intent_of(invoice["id"]))
    [event] = await deliver(stripe_gateway, clock, stripe_stub.event("refund.created", refund))
    assert (event.kind, event.session_id, event.order_id, event.first_invoice) == (
        EventKind.REFUND_SUCCEEDED,
        None,
        None,
        False,
    )
    assert (event.subscription_id, event.invoice_id, event.period_end, event.instance_id) == (
        paid["subscription"],
        invoice["id"],
        SECOND_PERIOD_END,
        "production",
    )


async def test_lost_dispute_of_a_renewal_is_traced_through_its_charge(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """dispute → charge → payment intent → invoice payment → invoice → subscription."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    invoice = stripe_stub.renew(paid["subscription"])
    dispute = copy.deepcopy(stripe_stub.fixtures["dispute"])
    dispute.update(status="lost", amount=500, currency="eur")
    stripe_stub.charge_intents[dispute["charge"]] = stripe_stub.intent_of(invoice["id"])
    body = stripe_stub.event("charge.dispute.closed", dispute)
    [event] = await deliver(stripe_gateway, clock, body)
    assert (event.kind, event.order_id, event.subscription_id, event.invoice_id) == (
        EventKind.DISPUTE_LOST,
        None,
        paid["subscription"],
        invoice["id"],
    )
    assert event.period_end == SECOND_PERIOD_END


async def test_cancelling_at_period_end_is_reported_as_subscription_updated(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The flag and the end of the period paid, read from the items (API 2025+)."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.cancel_subscription(paid["subscription"])
    [event] = await received(stripe_gateway, stripe_stub, clock, "customer.subscription.updated")
    assert (event.kind, event.subscription_id, event.cancel_at_period_end) == (
        EventKind.SUBSCRIPTION_UPDATED,
        paid["subscription"],
        True,
    )
    assert (event.period_end, event.amount, event.currency) == (FIRST_PERIOD_END, 500, "EUR")
    assert (event.session_id, event.order_id, event.invoice_id, event.instance_id) == (
        None,
        None,
        None,
        "production",
    )


async def test_subscription_ending_is_subscription_ended(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """customer.subscription.deleted: the subscription is over."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    stripe_stub.end(paid["subscription"])
    [event] = await received(stripe_gateway, stripe_stub, clock, "customer.subscription.deleted")
    assert (event.kind, event.subscription_id, event.period_end) == (
        EventKind.SUBSCRIPTION_ENDED,
        paid["subscription"],
        FIRST_PERIOD_END,
    )


def _legacy_subscription(stub: StripeStub, **fields: Any) -> dict[str, Any]:
    """A subscription as API versions before 2025-03-31 send it: the period on itself."""
    subscription = copy.deepcopy(stub.fixtures["subscription"])
    for item in subscription["items"]["data"]:
        del item["current_period_end"], item["current_period_start"]
    subscription.update(current_period_end=int(FIRST_PERIOD_END.timestamp()), cancel_at=None)
    subscription.update(fields)
    return subscription


async def test_older_api_period_end_on_the_subscription_is_read(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Endpoints pinned to an older API version still report the period."""
    subscription = _legacy_subscription(stripe_stub, cancel_at_period_end=False)
    body = stripe_stub.event("customer.subscription.updated", subscription)
    [event] = await deliver(stripe_gateway, clock, body)
    assert (event.period_end, event.cancel_at_period_end) == (FIRST_PERIOD_END, False)


async def test_cancel_at_the_period_end_counts_as_cancelling_at_period_end(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Newer dashboards and portals set cancel_at to the period's end instead of the flag."""
    subscription = _legacy_subscription(
        stripe_stub, cancel_at_period_end=False, cancel_at=int(FIRST_PERIOD_END.timestamp())
    )
    body = stripe_stub.event("customer.subscription.updated", subscription)
    [event] = await deliver(stripe_gateway, clock, body)
    assert event.cancel_at_period_end is True


async def test_older_api_invoice_names_its_subscription_at_the_top(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Before API 2025-03-31 an invoice said ``subscription`` and its lines ``type``."""
    invoice = copy.deepcopy(stripe_stub.fixtures["invoice"])
    [line] = invoice["lines"]["data"]
    del line["parent"]
    line.update(type="subscription", period={"start": 0, "end": int(SECOND_PERIOD_END.timestamp())})
    invoice.update(
        parent=None, subscription="sub_old", billing_reason="subscription_cycle", amount_paid=500
    )
    [event] = await deliver(stripe_gateway, clock, stripe_stub.event("invoice.paid", invoice))
    assert (event.subscription_id, event.period_end, event.amount) == (
        "sub_old",
        SECOND_PERIOD_END,
        500,
    )


async def test_an_invoice_of_no_subscription_yields_nothing(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The shop sends no one-off invoices; someone else's on the account are not ours."""
    invoice = copy.deepcopy(stripe_stub.fixtures["invoice"])
    invoice.update(parent=None, subscription=None, status="paid")
    assert await deliver(stripe_gateway, clock, stripe_stub.event("invoice.paid", invoice)) == []


# -- the member's actions ------------------------------------------------------------------


async def test_cancel_sets_cancel_at_period_end(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The time already paid stays: the subscription ends when its period does."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.cancel_subscription(paid["subscription"])
    [call] = stripe_stub.calls("POST", f"/v1/subscriptions/{paid['subscription']}")
    assert call.params == {"cancel_at_period_end": "true"}


async def test_cancelling_twice_asks_stripe_once(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Cancelling what is already set to cancel changes nothing."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.cancel_subscription(paid["subscription"])
    await stripe_gateway.cancel_subscription(paid["subscription"])
    assert len(stripe_stub.calls("POST", f"/v1/subscriptions/{paid['subscription']}")) == 1


async def test_resume_clears_cancel_at_period_end(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Resuming before the end lets it renew as before."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.cancel_subscription(paid["subscription"])
    await stripe_gateway.resume_subscription(paid["subscription"])
    calls = stripe_stub.calls("POST", f"/v1/subscriptions/{paid['subscription']}")
    assert [c.params for c in calls][-1] == {"cancel_at_period_end": "false"}
    assert stripe_stub.subscriptions[paid["subscription"]]["cancel_at_period_end"] is False


async def test_resume_clears_a_cancellation_made_in_the_billing_portal(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The portal sets cancel_at, not the flag: resuming unsets cancel_at, and Stripe's
    update says the subscription no longer cancels."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    stripe_stub.cancel_in_portal(paid["subscription"])
    [cancelling] = await received(
        stripe_gateway, stripe_stub, clock, "customer.subscription.updated"
    )
    assert cancelling.cancel_at_period_end is True
    await stripe_gateway.resume_subscription(paid["subscription"])
    calls = stripe_stub.calls("POST", f"/v1/subscriptions/{paid['subscription']}")
    assert [c.params for c in calls] == [{"cancel_at": ""}]
    assert stripe_stub.subscriptions[paid["subscription"]]["cancel_at"] is None
    [resumed] = await received(stripe_gateway, stripe_stub, clock, "customer.subscription.updated")
    assert resumed.cancel_at_period_end is False


async def test_resuming_what_is_not_cancelling_asks_stripe_nothing(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.resume_subscription(paid["subscription"])
    assert stripe_stub.calls("POST", f"/v1/subscriptions/{paid['subscription']}") == []


async def test_cancel_now_deletes_the_subscription(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Not at period end: Stripe cancels at once and reports the end."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    await stripe_gateway.cancel_subscription(paid["subscription"], at_period_end=False)
    assert len(stripe_stub.calls("DELETE", f"/v1/subscriptions/{paid['subscription']}")) == 1
    [event] = await received(stripe_gateway, stripe_stub, clock, "customer.subscription.deleted")
    assert event.kind == EventKind.SUBSCRIPTION_ENDED


async def test_cancelling_an_ended_subscription_changes_nothing(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Nothing left to cancel: no call that Stripe would refuse."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    stripe_stub.end(paid["subscription"])
    await stripe_gateway.cancel_subscription(paid["subscription"])
    path = f"/v1/subscriptions/{paid['subscription']}"
    assert stripe_stub.calls("POST", path) + stripe_stub.calls("DELETE", path) == []


async def test_resuming_an_ended_subscription_is_refused_for_good(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Stripe's refusal is permanent: retrying will not bring it back."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    stripe_stub.end(paid["subscription"])
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.resume_subscription(paid["subscription"])
    assert caught.value.transient is False


async def test_manage_url_is_a_billing_portal_session_of_the_customer(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """The portal opens for the subscription's customer and leads back to the shop."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    url = await stripe_gateway.manage_url(paid["subscription"], "https://shop.test/account")
    [call] = stripe_stub.calls("POST", "/v1/billing_portal/sessions")
    assert call.params == {"customer": paid["customer"], "return_url": "https://shop.test/account"}
    assert url.startswith("https://billing.stripe.com/p/session/")


async def test_an_unknown_subscription_is_a_permanent_error(
    stripe_gateway: StripeGateway, clock: Clock
) -> None:
    """Stripe's 404 needs a person, not a retry."""
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.manage_url("sub_nobody", "https://shop.test/account")
    assert caught.value.transient is False


async def test_stripe_failing_during_a_cancel_is_transient(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A 503 from Stripe can succeed on a retry."""
    paid = await subscribe(stripe_gateway, stripe_stub, clock)
    stripe_stub.failures.append(503)
    with pytest.raises(GatewayError) as caught:
        await stripe_gateway.cancel_subscription(paid["subscription"])
    assert caught.value.transient is True


async def test_two_checkouts_creating_one_items_price_at_once_share_it(
    stripe_gateway: StripeGateway, stripe_stub: StripeStub, clock: Clock
) -> None:
    """Two processes sell a new item at the same moment, one under a name just changed:
    both look it up, find nothing and create; the loser uses the winner's Price."""
    first = item_request(clock, order=21)
    renamed = dataclasses.replace(
        item_request(clock, order=22),
        lines=(
            dataclasses.replace(first.lines[0], name="Gold (renamed), monthly"),
            first.lines[1],
        ),
    )
    await asyncio.gather(
        stripe_gateway.create_checkout(first), stripe_gateway.create_checkout(renamed)
    )
    [price] = stripe_stub.prices
    assert [items[0]["price"] for items in _line_items(stripe_stub)] == [price, price]
