"""Subscriptions between the gateways and the store.

A subscription's checkout, and the first invoice it pays, are the order's: fulfilled,
refunded and disputed as any order. Everything after (renewal invoices paid or failed,
a renewal refunded or lost in a dispute, cancellation and its end) is the
subscription's own, recorded as a fact the store decides from (`store.subscriptions`).
This module tells the two apart, starts the subscription when its order is paid, and
carries the member's own actions (cancel, resume, fix the payment) to its gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from datetime import datetime

from payments.errors import GatewayError
from payments.gateway import Gateway
from payments.models import EventKind, GatewayEvent
from store.effects import Effect
from store.errors import InvalidInput, StoreError
from store.orders import Order, OrderState
from store.shop import Shop
from store.subscriptions import (
    SubscriptionFact,
    SubscriptionFactKind,
    SubscriptionRecord,
    SubscriptionStatus,
)

log = logging.getLogger(__name__)

F = SubscriptionFactKind
#: Gateway events that are a subscription's facts when they are about a renewal.
SUBSCRIPTION_FACTS: dict[EventKind, SubscriptionFactKind] = {
    EventKind.INVOICE_PAID: F.INVOICE_PAID,
    EventKind.INVOICE_FAILED: F.INVOICE_FAILED,
    EventKind.REFUND_SUCCEEDED: F.INVOICE_REFUNDED,
    EventKind.DISPUTE_LOST: F.INVOICE_DISPUTE_LOST,
    EventKind.SUBSCRIPTION_UPDATED: F.STATUS,
    EventKind.SUBSCRIPTION_ENDED: F.ENDED,
}
#: Kinds only a subscription reports; never an order's event.
SUBSCRIPTION_ONLY = frozenset(
    {
        EventKind.INVOICE_PAID,
        EventKind.INVOICE_FAILED,
        EventKind.SUBSCRIPTION_UPDATED,
        EventKind.SUBSCRIPTION_ENDED,
    }
)


class SubscriptionUnavailable(Exception):
    """The gateway could not act on the subscription; nothing changed, retry is safe."""

    def __init__(self, member_message: str) -> None:
        super().__init__(member_message)
        self.member_message = member_message


def belongs_to_subscription(event: GatewayEvent) -> bool:
    """A renewal's or a subscription's own event, not its order's (the checkout and its
    first invoice are the order's)."""
    return not event.first_invoice and (
        event.kind in SUBSCRIPTION_ONLY or event.subscription_id is not None
    )


def subscription_fact(event: GatewayEvent) -> SubscriptionFact | None:
    """The fact an event of a subscription reports; None for one the shop does not act
    on (the first invoice, which the order's payment covers; an opened dispute)."""
    if event.subscription_id is None or not belongs_to_subscription(event):
        return None
    kind = SUBSCRIPTION_FACTS.get(event.kind)
    if kind is None:
        return None
    if kind not in (F.STATUS, F.ENDED) and event.invoice_id is None:
        return None
    return SubscriptionFact(
        kind=kind,
        occurred_at=event.occurred_at,
        invoice_id=event.invoice_id,
        amount=event.amount,
        period_end=event.period_end,
        cancel_at_period_end=event.cancel_at_period_end,
        subject=(event.subject_id or "") if kind is F.INVOICE_REFUNDED else "",
    )


class Renewals:
    def __init__(self, shop: Shop, gateways: Mapping[str, Gateway], *, public_url: str) -> None:
        self.shop = shop
        self.gateways = gateways
        self.public_url = public_url

    async def record(self, event: GatewayEvent) -> list[Effect]:
        """Record a subscription's event as its fact (once, however often it comes)."""
        fact = subscription_fact(event)
        if fact is None:
            log.info("ignored %s for subscription %s", event.raw_type, event.subscription_id)
            return []
        assert event.subscription_id is not None  # a fact names its subscription
        return await self.shop.subscriptions.record(event.gateway, event.subscription_id, fact)

    async def start(self, event: GatewayEvent, order: Order | None = None) -> None:
        """The order that bought a subscription was paid: the subscription starts.

        Called for every report of the payment, not only the first: starting is
        idempotent, and a start that failed is tried again with the next report (and
        by `recover`).
        """
        if event.kind is not EventKind.PAYMENT_SUCCEEDED or event.subscription_id is None:
            return
        if order is None and event.session_id is not None:
            order = await self.shop.orders.by_session(event.gateway, event.session_id)
        if order is None:
            return  # another shop's, or no order of ours
        await self._start(
            order,
            event.gateway,
            event.subscription_id,
            first_invoice_id=event.invoice_id,
            period_end=event.period_end,
            reported_at=event.occurred_at,
        )

    async def recover(self, limit: int = 50) -> int:
        """Start the subscriptions of paid orders whose start was missed, asking each
        order's gateway which subscription its checkout made (a reconcile job)."""
        started = 0
        for shop_id, order_id in await self.shop.subscriptions.unstarted(limit):
            order = await self.shop.orders.get(shop_id, order_id)
            gateway = self.gateways.get(order.gateway or "")
            if gateway is None or order.gateway_session_id is None:
                continue
            try:
                state = await gateway.fetch_session(order.gateway_session_id)
                if state.subscription_id is not None:
                    await self._start(order, gateway.name, state.subscription_id)
                    started += 1
            except (GatewayError, StoreError) as error:  # one order never stops the rest
                log.warning("order %s: its subscription did not start: %s", order.id, error)
        return started

    async def _start(
        self,
        order: Order,
        gateway: str,
        subscription_id: str,
        *,
        first_invoice_id: str | None = None,
        period_end: datetime | None = None,
        reported_at: datetime | None = None,
    ) -> None:
        if order.state is not OrderState.FULFILLED:
            return  # held for review, refunded or charged back: nothing to renew yet
        catalog = (await self.shop.shops.get(order.shop_id)).catalog
        for line in order.lines:
            interval = catalog.line_renews_every(line.kind, line.spec)
            if interval is None:
                continue
            await self.shop.subscriptions.start(
                shop_id=order.shop_id,
                member_id=line.recipient_id,
                tier=str(line.spec["tier"]),
                sku=line.sku,
                interval=interval,
                gateway=gateway,
                gateway_ref=subscription_id,
                order_id=order.id,
                order_line_id=line.id,
                amount=line.unit_price.amount,
                currency=line.unit_price.currency,
                first_invoice_id=first_invoice_id,
            )
            if period_end is not None and reported_at is not None:
                first = SubscriptionFact(  # when it first renews, as the gateway says
                    kind=F.STATUS,
                    occurred_at=reported_at,
                    period_end=period_end,
                    cancel_at_period_end=False,
                )
                await self.shop.subscriptions.record(gateway, subscription_id, first)

    # ---- the member's own actions ----------------------------------------------

    async def owned(self, shop_id: int, member_id: int, subscription_id: int) -> SubscriptionRecord:
        """One of the member's subscriptions in this shop; anyone else's is refused."""
        for record in await self.shop.subscriptions.for_member(shop_id, member_id):
            if record.id == subscription_id:
                return record
        raise InvalidInput("That subscription isn't one of yours.")

    async def cancel(self, shop_id: int, member_id: int, subscription: int) -> SubscriptionRecord:
        """Cancel at the end of the period paid: the time paid for stays. Returns the
        subscription as it stood when asked (the gateway's webhook changes it)."""
        record = await self.owned(shop_id, member_id, subscription)
        gateway = self._gateway_of(record)
        await _acting(gateway.cancel_subscription(record.gateway_ref, at_period_end=True))
        return record

    async def resume(self, shop_id: int, member_id: int, subscription: int) -> SubscriptionRecord:
        """Take back a cancellation before the period ends: it renews as before."""
        record = await self.owned(shop_id, member_id, subscription)
        await _acting(self._gateway_of(record).resume_subscription(record.gateway_ref))
        return record

    def manage_link(self, manage_token: str | None) -> str | None:
        """The member's own "update payment" link on the shop, the same every time (a
        DM may be read days later); opening it asks the gateway for a fresh page."""
        if not manage_token:
            return None
        return f"{self.public_url}/subscription/manage/{manage_token}"

    async def open_manage(self, manage_token: str) -> str:
        """Where the link leads now: the gateway's page for the payment details
        (Stripe's customer billing portal, made for this visit)."""
        record = await self.shop.subscriptions.by_manage_token(manage_token)
        if record is None or record.status is SubscriptionStatus.ENDED:
            # An ended subscription's link opens nothing: the page shows payment details.
            raise InvalidInput("That link is not one of this shop's, or its subscription ended.")
        gateway = self._gateway_of(record)
        try:
            return await gateway.manage_url(
                record.gateway_ref, f"{self.public_url}/subscription/return"
            )
        except GatewayError as error:
            log.warning("no payment page for subscription %s: %s", record.id, error)
            raise SubscriptionUnavailable(
                "The payment provider didn't answer. Please try the link again shortly."
            ) from error

    def _gateway_of(self, record: SubscriptionRecord) -> Gateway:
        """The enabled gateway the subscription renews through; refused once disabled."""
        gateway = self.gateways.get(record.gateway)
        if gateway is None:
            raise SubscriptionUnavailable(
                f"This subscription renews through {record.gateway!r}, which this shop no "
                "longer has enabled; ask a moderator."
            )
        return gateway


async def _acting(action: Awaitable[None]) -> None:
    """The gateway's answer decides; the store hears of the change from its webhook."""
    try:
        await action
    except GatewayError as error:
        log.warning("subscription action failed: %s", error)
        raise SubscriptionUnavailable(
            "The payment provider didn't answer; nothing changed. Please try again shortly."
        ) from error
