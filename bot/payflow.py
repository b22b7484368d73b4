"""Between the store's orders and a payment gateway.

The store decides and the gateway collects; this module carries ids across and
keeps the rules of the integration: gateway calls never happen inside a database
transaction, the idempotency key is derived from the order (two checkouts of one
cart make one order, so one session), every verified event is recorded before
it is acknowledged and then applied in its own transaction, and events another
deployment's checkouts caused (one gateway account shared by staging and production)
are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.renewals import Renewals, belongs_to_subscription
from payments.errors import GatewayError
from payments.gateway import Gateway
from payments.models import (
    CheckoutLine,
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    GatewayEvent,
    Interval,
)
from store.carts import CartSummary
from store.coupons import Coupon, discount_shares
from store.deployment import Deployment
from store.effects import Effect
from store.errors import StoreError
from store.fulfilment import Applied, PaymentOutcome
from store.orders import (
    LAPSED_STATES,
    SETTLED_STATES,
    CheckoutResult,
    Order,
    OrderLine,
    OrderState,
)
from store.shop import Shop
from store.shops import ShopDefinition

log = logging.getLogger(__name__)

EffectsReady = Callable[[], Awaitable[None]]

#: The return page asks the gateway about one session at most this often: reloading
#: or flooding it must not turn into a stream of gateway calls.
RETURN_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class CheckoutOutcome:
    """What the member sees after pressing Checkout."""

    order: Order
    session: CheckoutSession | None
    effects: list[Effect]
    #: The cart after checkout when the store read it in the same transaction.
    cart: CartSummary | None = None
    #: False when Checkout found the order an earlier press made (the cart is empty).
    created: bool = True
    #: The session's gateway takes no real money: the member must be told.
    test_payment: bool = False

    @property
    def paid_with_points(self) -> bool:
        """Just now, wholly with points: nothing went through a gateway."""
        return (
            self.created
            and self.session is None
            and self.order.state is OrderState.FULFILLED
            and self.order.cash_due.amount == 0
        )

    @property
    def already_paid(self) -> bool:
        """Checkout pressed again after the order it made was paid (by card or points)."""
        return not self.created and self.order.paid_at is not None


@dataclass(frozen=True)
class GatewayOption:
    """One way of paying the member may pick."""

    name: str
    label: str
    test_payment: bool


@dataclass(frozen=True)
class PaymentChoice:
    """Several gateways are enabled and nothing has a session yet: the member picks one.

    ``order`` is None when no order was made (the cart is still the cart), else the
    pending order that waits for a gateway (points paid part, or a gateway failed).
    """

    order: Order | None
    options: tuple[GatewayOption, ...]
    #: Points the member could still put towards the cart (0 once an order exists).
    points: int
    cart: CartSummary | None = None


class ReturnStatus(StrEnum):
    """What the member returning from the gateway's page is told."""

    PAID = "paid"
    CONFIRMING = "confirming"
    UNKNOWN = "unknown"


class PaymentUnavailable(Exception):
    """The gateway could not open a checkout; the order waits and a retry is safe."""

    def __init__(self, member_message: str) -> None:
        super().__init__(member_message)
        self.member_message = member_message


def to_outcome(event: GatewayEvent) -> PaymentOutcome:
    return PaymentOutcome(
        gateway=event.gateway,
        event_id=event.event_id,
        kind=event.kind.value,
        order_id=event.order_id,
        session_id=event.session_id,
        amount=event.amount,
        currency=event.currency,
        subject_id=event.subject_id,
        payment_ref=event.payment_ref,
    )


class PaymentFlow:
    def __init__(
        self,
        shop: Shop,
        gateways: Gateway | Sequence[Gateway],
        *,
        public_url: str,
        on_effects: EffectsReady | None = None,
        deployment: Deployment | None = None,
        return_check_seconds: float = RETURN_CHECK_SECONDS,
    ) -> None:
        listed = [gateways] if isinstance(gateways, Gateway) else list(gateways)
        if not listed:
            raise ValueError("a payment flow needs at least one gateway")
        self.shop = shop
        #: Every enabled gateway by name, the default first.
        self.gateways: dict[str, Gateway] = {}
        for gateway in listed:
            if gateway.name in self.gateways:
                raise ValueError(f"gateway {gateway.name!r} given twice")
            self.gateways[gateway.name] = gateway
        #: The default: what a checkout uses when nobody chose.
        self.gateway = listed[0]
        self.public_url = public_url.rstrip("/")
        self._on_effects = on_effects
        self.deployment = deployment or Deployment(shop.ctx)
        self._return_checks = Throttle(return_check_seconds)
        #: Subscriptions' own events, their start, and the member's actions on them.
        self.renewals = Renewals(shop, self.gateways, public_url=self.public_url)

    async def offered(self, shop_id: int) -> list[Gateway]:
        """The gateways a guild's shop offers at checkout, the default first: those
        its moderators chose (`/shopadmin setup gateways`) among the enabled ones, or
        every enabled one. Never empty: a choice naming none enabled offers them all."""
        chosen = (await self.shop.shops.get(shop_id)).profile.gateways
        if chosen is None:
            return list(self.gateways.values())
        found = [gateway for name, gateway in self.gateways.items() if name in chosen]
        return found or list(self.gateways.values())

    @staticmethod
    def options(gateways: Sequence[Gateway]) -> tuple[GatewayOption, ...]:
        return tuple(
            GatewayOption(gateway.name, gateway.label(), not gateway.takes_real_money)
            for gateway in gateways
        )

    def gateway_named(self, name: str, offered: Sequence[Gateway] | None = None) -> Gateway:
        """An enabled (and, given `offered`, offered) gateway; a stale or forged choice
        is refused, not guessed at."""
        gateway = self.gateways.get(name)
        if gateway is None or (offered is not None and gateway not in offered):
            raise PaymentUnavailable(
                "That way of paying is not offered here (any more). "
                "Press Checkout again to see how you can pay."
            )
        return gateway

    def gateway_for(self, order: Order) -> Gateway:
        """The gateway that holds this order's session (the default before it has one).

        An order whose gateway the operator has since disabled cannot be acted on
        here: refused rather than sent to a gateway that never saw it.
        """
        gateway = self._holder(order)
        if gateway is None:
            raise PaymentUnavailable(
                f"Order #{order.id} went through the {order.gateway!r} payment gateway, "
                "which this shop no longer has enabled; ask a moderator."
            )
        return gateway

    def _holder(self, order: Order) -> Gateway | None:
        """The enabled gateway holding the order's session (the default before it has
        one); None when the operator has disabled the one it went through."""
        return self.gateways.get(order.gateway or self.gateway.name)

    def on_effects(self, callback: EffectsReady) -> None:
        """Who to wake when new effects wait in the outbox (the bot's deliverer)."""
        self._on_effects = callback

    # ---- checkout -----------------------------------------------------------

    async def begin_checkout(
        self, shop_id: int, member_id: int, *, points: int = 0, gateway: str | None = None
    ) -> CheckoutOutcome | PaymentChoice:
        """What pressing Checkout leads to: the checkout, or first the member's choice.

        With one gateway, or a gateway chosen, this is `checkout`. With several and
        none chosen, nothing that has no session yet is sent to a gateway: a cart is
        not even made an order (asked first, so a member who walks away leaves no
        order behind), unless points were asked for, which are applied first.
        """
        offered = await self.offered(shop_id)
        if gateway is not None or len(offered) == 1:
            return await self.checkout(shop_id, member_id, points=points, gateway=gateway)
        if points == 0:
            cart = await self.shop.carts.view(shop_id, member_id)
            if not cart.is_empty:
                renewing = await self._cart_renews(shop_id, cart)
                usable = self._usable(offered, renewing)
                if len(usable) == 1:  # checked just now: no second look at the cart
                    return await self._checkout_with(shop_id, member_id, 0, usable[0])
                options = self.options(usable)
                # A subscription is never paid with points: none are offered beside it.
                offered_points = 0 if renewing else cart.points_available
                return PaymentChoice(None, options, offered_points, cart)
        # Points wanted, or an empty cart (its earlier order, if any, comes back).
        result = await self.shop.orders.checkout(shop_id, member_id, points=points)
        return await self._proceed(result, None, offered)

    async def checkout(
        self, shop_id: int, member_id: int, *, points: int = 0, gateway: str | None = None
    ) -> CheckoutOutcome:
        """Check the cart out and pay through ``gateway`` (the default when None).

        A pending order that already has a session keeps it, whatever was chosen: one
        order is one session.
        """
        offered = await self.offered(shop_id)
        chosen = self.gateway_named(gateway, offered) if gateway is not None else offered[0]
        if (await self.shop.shops.get(shop_id)).catalog.sells_subscriptions:
            # Before the order is made: a cart a gateway cannot take stays a cart.
            cart = await self.shop.carts.view(shop_id, member_id)
            if await self._cart_renews(shop_id, cart) and not chosen.supports_subscriptions:
                usable = self._usable(offered, True)
                if gateway is not None:
                    raise PaymentUnavailable(
                        f"{chosen.label()} can't renew a subscription; pay with "
                        f"{usable[0].label()} instead."
                    )
                chosen = usable[0]
        return await self._checkout_with(shop_id, member_id, points, chosen)

    async def _checkout_with(
        self, shop_id: int, member_id: int, points: int, chosen: Gateway
    ) -> CheckoutOutcome:
        result = await self.shop.orders.checkout(shop_id, member_id, points=points)
        outcome = await self._proceed(result, chosen, [chosen])
        assert isinstance(outcome, CheckoutOutcome)  # a chosen gateway never asks
        return outcome

    async def _proceed(
        self, result: CheckoutResult, chosen: Gateway | None, offered: Sequence[Gateway]
    ) -> CheckoutOutcome | PaymentChoice:
        order = result.order
        if result.effects:
            await self._wake()
        if not order.needs_payment:
            return CheckoutOutcome(order, None, result.effects, result.cart, result.created)
        stored = self._stored_session(order)
        if stored is not None:
            holder = self._holder(order)
            if holder is None:
                raise PaymentUnavailable(
                    f"Order #{order.id} waits for a payment method this shop no longer "
                    "offers. Cancel it in /account to get your items back."
                )
            return CheckoutOutcome(
                order, stored, [], result.cart, test_payment=not holder.takes_real_money
            )
        if chosen is None:
            return PaymentChoice(order, self.options(offered), 0, result.cart)
        order, session = await self._open_session(order, chosen)
        return CheckoutOutcome(
            order, session, [], result.cart, test_payment=not chosen.takes_real_money
        )

    def _usable(self, offered: Sequence[Gateway], renewing: bool) -> list[Gateway]:
        """The offered gateways that can take a payment: any, or for a subscription
        those that renew one; a shop with none of those cannot sell it now."""
        usable = [g for g in offered if g.supports_subscriptions or not renewing]
        if not usable:
            raise PaymentUnavailable(
                "None of this shop's ways of paying can renew a subscription, so it can't "
                "be bought right now. Remove it from your cart to check out the rest."
            )
        return usable

    async def _cart_renews(self, shop_id: int, cart: CartSummary) -> bool:
        catalog = (await self.shop.shops.get(shop_id)).catalog
        return any(
            (item := catalog.get(line.sku)) is not None and catalog.renews_every(item)
            for line in cart.lines
        )

    def _stored_session(self, order: Order) -> CheckoutSession | None:
        """The session the order already has, if any (one order, one session)."""
        if not (order.checkout_url and order.gateway_session_id and order.checkout_expires_at):
            return None
        return CheckoutSession(
            gateway=order.gateway or self.gateway.name,
            session_id=order.gateway_session_id,
            url=order.checkout_url,
            expires_at=order.checkout_expires_at,
        )

    def stored_link(self, order: Order) -> str | None:
        """The order's Pay link while it can still be paid: pending, session unexpired,
        at a gateway still enabled (a payment at a disabled one would never be heard of)."""
        expires = order.checkout_expires_at
        if order.state is not OrderState.PENDING or order.checkout_url is None:
            return None
        if expires is None or _past(expires, self.shop.ctx.now()):
            return None
        if self._holder(order) is None:
            return None
        return order.checkout_url

    def test_payment(self, order: Order) -> bool:
        """Whether the gateway holding the order's session takes no real money."""
        holder = self._holder(order)
        return holder is not None and not holder.takes_real_money

    async def session_for(self, order: Order, gateway: Gateway | None = None) -> CheckoutSession:
        """Open (or, for the same order, find again) the session on ``gateway``."""
        gateway = gateway or self.gateway_for(order)
        shop = await self.shop.shops.get(order.shop_id)
        coupon = None
        if order.coupon_code is not None and order.discounted and not order.points_applied:
            coupon = await self.shop.coupons.find(order.shop_id, order.coupon_code)
        request = self._request(order, shop, await self.deployment.instance_id(), coupon)
        try:
            return await gateway.create_checkout(request)
        except GatewayError as exc:
            log.warning("checkout for order %s failed: %s", order.id, exc)
            raise PaymentUnavailable(exc.member_message) from exc

    async def _open_session(self, order: Order, gateway: Gateway) -> tuple[Order, CheckoutSession]:
        """Open a session and attach it; a session that lost the race is killed.

        Two presses at once (two gateways, or one racing Cancel) may each open a
        session; the store keeps the first, and the other link, never shown to
        anyone, is expired at its gateway so no second way to pay exists.
        """
        session = await self.session_for(order, gateway)
        order = await self.shop.orders.attach_session(
            order.id,
            gateway=gateway.name,
            session_id=session.session_id,
            url=session.url,
            expires_at=session.expires_at,
        )
        if order.gateway_session_id == session.session_id and order.gateway == gateway.name:
            return order, session
        try:
            await gateway.expire_session(session.session_id)
        except GatewayError as exc:  # never shown to anyone; it lapses on its own
            log.warning("order %s: a second session could not be expired: %s", order.id, exc)
        stored = self._stored_session(order)
        if order.state is not OrderState.PENDING or stored is None:
            raise PaymentUnavailable(
                f"Order #{order.id} is {order.state.replace('_', ' ')} now, so there is "
                "nothing to pay. See /account."
            )
        return order, stored

    def _request(
        self,
        order: Order,
        shop: ShopDefinition,
        instance_id: str,
        coupon: Coupon | None = None,
    ) -> CheckoutRequest:
        ttl = timedelta(minutes=self.shop.ctx.config.checkout_ttl_minutes)
        if order.points_applied:
            # Points paid part: one line for what is left, so the lines sum to the charge.
            lines: tuple[CheckoutLine, ...] = (
                CheckoutLine(
                    name=f"Order #{order.id} (after {order.points_applied:,} points)",
                    quantity=1,
                    unit_amount=order.cash_due.amount,
                ),
            )
        else:
            catalog = shop.catalog
            renewing = [catalog.line_renews_every(line.kind, line.spec) for line in order.lines]
            shares = discount_shares(
                order.discount.amount if order.discount is not None else 0,
                [
                    (line.sku, line.total.amount, interval is not None)
                    for line, interval in zip(order.lines, renewing, strict=True)
                ],
                coupon,
            )
            lines = tuple(
                _discounted_line(line, share, interval)
                for line, share, interval in zip(order.lines, shares, renewing, strict=True)
            )
        return CheckoutRequest(
            order_id=str(order.id),
            # Idempotency keys are per gateway account, which deployments may share
            # while their order numbers collide: the key names the deployment too.
            idempotency_key=f"{instance_id}-order-{order.id}",
            lines=lines,
            total=order.cash_due.amount,
            currency=order.cash_due.currency,
            # The same URLs whichever gateways are enabled: a retry after the operator
            # enables another must send the very same request (its idempotency key).
            # The return page finds the session's gateway by looking under each.
            success_url=f"{self.public_url}/checkout/return?order={order.id}",
            cancel_url=f"{self.public_url}/checkout/cancel?order={order.id}",
            # From the order, not from now: a retry must send the very same request.
            expires_at=order.created_at + ttl,
            # The deployment's name, not the guild shop's: a shop renamed from Discord
            # between two attempts would change the request its idempotency key names.
            description=f"{self.shop.template.name} order #{order.id}",
            customer_ref=str(order.buyer_id),
            instance_id=instance_id,
        )

    # ---- events -------------------------------------------------------------

    async def receive_webhook(
        self, body: bytes, headers: Mapping[str, str], gateway: str | None = None
    ) -> int:
        """Verify, record, acknowledge; then apply. Returns how many events were new.

        ``gateway`` names the enabled gateway the webhook came to (the default when
        None); the web app answers 404 for any other name before calling this.
        Raises payments.errors.WebhookVerificationError (answer 400; nothing stored). Once recorded
        an event is never lost: if applying fails, `apply_unapplied` retries it.
        """
        source = self.gateways[gateway] if gateway is not None else self.gateway
        events = source.verify_webhook(body, headers)
        fresh = []
        starting = []
        renewed = False
        for event in events:
            resolved = await source.resolve_event(event)
            if await self._foreign(resolved.instance_id, resolved.event_id, source.name):
                continue  # the other deployment's endpoint gets its own copy
            if belongs_to_subscription(resolved):
                renewed = bool(await self.renewals.record(resolved)) or renewed
                continue
            if resolved.kind is EventKind.INVOICE_PAID:
                continue  # the first invoice: the order's payment event covers it
            if resolved.subscription_id is not None:
                starting.append(resolved)
            outcome = to_outcome(resolved)
            if await self.shop.fulfilment.record(outcome):
                fresh.append(outcome)
        for outcome in fresh:
            try:
                await self.shop.fulfilment.process(outcome.gateway, outcome.event_id)
            except Exception:  # recorded already; the sweeper applies it later
                log.exception(
                    "applying %s/%s failed; will retry", outcome.gateway, outcome.event_id
                )
        for event in starting:  # every report, not only a fresh one: starting is idempotent
            await self.renewals.start(event)
        if fresh or renewed:
            await self._wake()
        return len(fresh)

    async def confirm_return(self, session_id: str, gateway: str | None = None) -> ReturnStatus:
        """The success redirect: ask the gateway, and fulfil if it says paid.

        Anyone can load the return page with any session id, so the gateway is asked
        only about sessions of our own orders that still wait for money, and about
        each at most once per `return_check_seconds`; the webhook and the reconciler
        deliver the payment anyway. The order is looked up under the gateway the
        return URL names, or under each enabled one when it names none we know.
        """
        order = await self._order_by_session(session_id, gateway)
        if order is None:
            return ReturnStatus.UNKNOWN
        source = self.gateway_for(order)
        if order.state in SETTLED_STATES:
            return ReturnStatus.PAID
        waiting = order.state is OrderState.PENDING or order.state in LAPSED_STATES
        if not waiting or not self._return_checks.allow(session_id):
            return ReturnStatus.CONFIRMING
        state = await source.fetch_session(session_id)
        if await self._foreign(state.instance_id, f"return:{session_id}", source.name):
            return ReturnStatus.UNKNOWN
        event = state.as_event(source.name, self.shop.ctx.now())
        if event is None:
            return ReturnStatus.CONFIRMING
        applied = await self.shop.fulfilment.apply(to_outcome(event))
        if applied.effects:
            await self._wake()
        order = await self.shop.orders.get(order.shop_id, order.id)
        try:
            await self.renewals.start(event, order)
        except StoreError as error:  # the page says paid; reconciliation starts it later
            log.warning("order %s: its subscription did not start yet: %s", order.id, error)
        return ReturnStatus.PAID if order.state in SETTLED_STATES else ReturnStatus.CONFIRMING

    async def _order_by_session(self, session_id: str, gateway: str | None) -> Order | None:
        names = [gateway] if gateway in self.gateways else list(self.gateways)
        for name in names:
            order = await self.shop.orders.by_session(name, session_id)
            if order is not None:
                return order
        return None

    async def reconcile(self, older_than: timedelta, limit: int = 100) -> list[Applied]:
        """Ask the gateway about stale pending orders and apply what it says.

        Recovers dropped webhooks and lapses expired sessions. Safe to run in several
        processes at once: each result is applied under the event's unique id. Each
        order is asked about at the gateway that holds its session.
        """
        results = []
        enabled = list(self.gateways)
        for order in await self.shop.orders.stale_pending(older_than, limit, gateways=enabled):
            await asyncio.sleep(0)  # one order at a time: members are served in between
            assert order.gateway_session_id is not None
            try:
                source = self.gateway_for(order)
                state = await source.fetch_session(order.gateway_session_id)
            except (GatewayError, PaymentUnavailable) as exc:
                log.warning("reconciling order %s: %s", order.id, exc)
                continue
            marker = f"reconcile:{order.gateway_session_id}"
            if await self._foreign(state.instance_id, marker, source.name):
                continue
            event = state.as_event(source.name, self.shop.ctx.now())
            if event is None and _past(order.checkout_expires_at, self.shop.ctx.now()):
                try:
                    await source.expire_session(order.gateway_session_id)
                except GatewayError as exc:
                    log.warning("expiring session of order %s: %s", order.id, exc)
                    continue
                state = await source.fetch_session(order.gateway_session_id)
                event = state.as_event(source.name, self.shop.ctx.now())
            if event is not None:
                results.append(await self.shop.fulfilment.apply(to_outcome(event)))
                await self.renewals.start(event)
        # Orders that never got a session, or whose session's gateway was disabled and
        # has expired, can't be paid: give the member their cart back.
        ttl = timedelta(minutes=self.shop.ctx.config.checkout_ttl_minutes)
        lapsing = await self.shop.orders.stale_without_session(max(ttl, older_than), limit)
        lapsing += await self.shop.orders.expired_elsewhere(enabled, limit)
        for order in lapsing:
            try:
                await self.shop.orders.lapse(order.id, OrderState.EXPIRED)
            except StoreError as exc:
                log.info("order %s no longer lapses: %s", order.id, exc)
        results += await self.apply_unapplied()
        await self.renewals.recover(limit)
        if any(r.effects for r in results):
            await self._wake()
        return results

    async def apply_unapplied(self) -> list[Applied]:
        """Events recorded but not applied (a crash between the two steps)."""
        return [
            await self.shop.fulfilment.process(gateway, event_id)
            for gateway, event_id in await self.shop.fulfilment.unapplied()
        ]

    async def cancel(self, shop_id: int, member_id: int, order_id: int) -> Order:
        """The member cancels their pending order; returns the order as it ends up.

        The store decides who may cancel what (`cancellable`, then `cancel` under the
        order's lock); here the gateway's link is killed first, outside any transaction,
        so no working link outlives its order. When the gateway says the session was
        paid meanwhile, that payment is applied (paid wins) and the order comes back
        settled, not cancelled. A gateway that can't be reached changes nothing.
        """
        order = await self.shop.orders.cancellable(shop_id, member_id, order_id)
        session_id = order.gateway_session_id
        # A gateway the operator disabled can't be asked, and a payment there would
        # never reach this shop: the order is simply cancelled.
        gateway = self._holder(order)
        if session_id is not None and gateway is not None:
            try:
                await gateway.expire_session(session_id)
            except GatewayError as exc:
                if exc.transient:
                    log.warning("cancelling order %s: %s", order.id, exc)
                    raise PaymentUnavailable(
                        f"Order #{order.id} could not be cancelled: the payment provider is "
                        "not reachable right now. Nothing changed; please try again in a minute."
                    ) from exc
                # Refused for good: the session completed (paid wins) or failed. Ask it.
                try:
                    state = await gateway.fetch_session(session_id)
                except GatewayError as again:
                    raise PaymentUnavailable(again.member_message) from again
                event = state.as_event(gateway.name, self.shop.ctx.now())
                marker = f"cancel:{session_id}"
                if event is None or await self._foreign(state.instance_id, marker, gateway.name):
                    log.warning("cancelling order %s refused: %s", order.id, exc)
                    raise PaymentUnavailable(exc.member_message) from exc
                applied = await self.shop.fulfilment.apply(to_outcome(event))
                if applied.effects:
                    await self._wake()
                order = await self.shop.orders.get(shop_id, order_id, buyer_id=member_id)
                if order.state is OrderState.PENDING:
                    raise PaymentUnavailable(
                        f"The payment for order #{order.id} is being processed, so it can't "
                        "be cancelled now. Nothing changed; see /account in a while."
                    ) from exc
                return order
        try:
            return await self.shop.orders.cancel(shop_id, member_id, order_id)
        except StoreError:
            # Between the two steps a webhook moved the order (the killed link's own
            # expiry notice, or a payment that beat it): what it is now is the answer.
            order = await self.shop.orders.get(shop_id, order_id, buyer_id=member_id)
            if order.state in {OrderState.PENDING, OrderState.CANCELLED}:
                raise
            return order

    async def refund(self, order: Order, amount: int | None, reason_key: str) -> None:
        """Ask the gateway to refund; the store changes when the refund event arrives."""
        if order.gateway_session_id is None:
            raise PaymentUnavailable("This order was not paid through a payment gateway.")
        gateway = self.gateway_for(order)
        key = f"{await self.deployment.instance_id()}-refund-{order.id}-{reason_key}"
        try:
            await gateway.refund(order.gateway_session_id, amount, idempotency_key=key)
        except GatewayError as exc:
            raise PaymentUnavailable(exc.member_message) from exc

    async def _foreign(
        self, instance_id: str | None, event_id: str, gateway: str | None = None
    ) -> bool:
        """Whether another deployment marked this event; no mark goes on to the store,
        which accepts an event only for the order's own session."""
        if instance_id is None:
            return False
        own = await self.deployment.instance_id()
        if instance_id == own:
            return False
        log.info(
            "ignored %s event %s: it belongs to deployment %r, this is %r",
            gateway or "a gateway",
            event_id,
            instance_id,
            own,
        )
        return True

    async def _wake(self) -> None:
        if self._on_effects is not None:
            await self._on_effects()


def _discounted_line(line: OrderLine, share: int, interval: Interval | None) -> CheckoutLine:
    """The line less its share of the discount; when that does not divide by the
    quantity, one line "Name × 3" of quantity 1 carrying the whole line's amount."""
    total = line.total.amount - share
    if share == 0 or total % line.quantity == 0:
        return CheckoutLine(
            name=line.name,
            quantity=line.quantity,
            unit_amount=total // line.quantity,
            interval=interval,
            sku=line.sku,
        )
    return CheckoutLine(name=f"{line.name} × {line.quantity}", quantity=1, unit_amount=total)


class Throttle:
    """Lets each key through at most once per `interval` seconds (monotonic time).

    Keys are forgotten once their interval has passed, so memory stays bounded by
    what was let through recently.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._passed: OrderedDict[str, float] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = self._clock()
        while self._passed:
            oldest, at = next(iter(self._passed.items()))
            if now - at < self.interval:
                break
            del self._passed[oldest]
        if key in self._passed:
            return False
        self._passed[key] = now
        return True


def _past(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now
