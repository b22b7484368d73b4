"""The ``stripe`` gateway: Stripe Checkout Sessions through the official SDK's async API.

Every SDK call lives in this module; ``stripe_events`` only translates event payloads.

Subscriptions are Checkout Sessions in ``mode=subscription``. A recurring line that
sells a catalog item uses one Price object per deployment, item, interval, amount and
currency, found by its ``lookup_key`` or else created: inline ``price_data`` would make
a new Price and Product at every checkout, cluttering the account's catalog and the
billing portal. A changed price is a new key, so a Price never changes under a running
subscription. Lines without an item (and one-off lines) stay inline.
The session's metadata is copied to the subscription (``subscription_data.metadata``),
so every renewal invoice still names the deployment that sold it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, cast

import aiohttp
import stripe
from pydantic import Field, SecretStr

from payments import signing
from payments.errors import GatewayError, WebhookVerificationError
from payments.gateway import Gateway, GatewayContext, GatewayOptions
from payments.models import (
    CheckoutLine,
    CheckoutRequest,
    CheckoutSession,
    GatewayEvent,
    Interval,
    RefundResult,
    SessionState,
)
from payments.stripe_events import (
    invoice_metadata,
    invoice_period_end,
    invoice_subscription_id,
    is_first_invoice,
    parse_stripe_event,
    session_state,
)

# Stripe accepts expires_at from 30 minutes to 24 hours after creation; keep a margin so
# the time the request spends in flight cannot push it out of the window.
MIN_EXPIRY = timedelta(minutes=31)
MAX_EXPIRY = timedelta(hours=23, minutes=59)
SIGNATURE_HEADER = "Stripe-Signature"
#: Subscription statuses after which there is nothing left to cancel.
ENDED_STATUSES = ("canceled", "incomplete_expired")
#: Stripe's limit on a Price's lookup_key.
LOOKUP_KEY_MAX = 200


class StripeOptions(GatewayOptions):
    api_key: SecretStr = Field(min_length=1)
    webhook_secret: SecretStr = Field(min_length=1)
    previous_webhook_secrets: tuple[SecretStr, ...] = ()
    api_base: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_network_retries: int = Field(default=2, ge=0)
    signature_tolerance_seconds: int = Field(default=signing.DEFAULT_TOLERANCE_SECONDS, ge=1)


def derived_key(purpose: str, key: str) -> str:
    """Our idempotency key, namespaced per call and kept within Stripe's 255 characters."""
    derived = f"storefront-{purpose}-{key}"
    if len(derived) > 255:
        derived = f"storefront-{purpose}-sha256-{hashlib.sha256(key.encode()).hexdigest()}"
    return derived


def price_lookup_key(instance_id: str | None, line: CheckoutLine, currency: str) -> str:
    """The key of the one Price a recurring line of an item uses.

    Everything that makes two Prices differ is in it, so a changed amount or currency
    finds no Price and makes a new one while running subscriptions keep theirs; the
    deployment is in it because deployments sharing an account may sell different things
    under one sku.
    """
    key = f"{instance_id or 'shop'}:{line.sku}:{line.interval}:{line.unit_amount}:{currency}"
    if len(key) > LOOKUP_KEY_MAX:
        key = f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def with_session_placeholder(url: str) -> str:
    """Stripe fills ``{CHECKOUT_SESSION_ID}`` in; the fake appends the same parameter,
    so the return page gets ``session_id`` from either gateway."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}session_id={{CHECKOUT_SESSION_ID}}"


def gateway_error(error: stripe.StripeError) -> GatewayError:
    """Network trouble, rate limits, conflicts and Stripe's 5xx can succeed on a retry
    with the same idempotency key; everything else needs a person."""
    status = error.http_status
    transient = isinstance(error, stripe.APIConnectionError | stripe.RateLimitError) or (
        status is not None and (status >= 500 or status in (409, 429))
    )
    if isinstance(error, stripe.IdempotencyError):
        transient = False
    return GatewayError(
        f"stripe {type(error).__name__} (HTTP {status}, request {error.request_id}): "
        f"{error.user_message or error.code or 'no message'}",
        transient=transient,
    )


class StripeGateway(Gateway):
    name: ClassVar[str] = "stripe"
    Options: ClassVar[type[GatewayOptions]] = StripeOptions
    display_name: ClassVar[str] = "Card (Stripe)"
    supports_subscriptions: ClassVar[bool] = True

    def __init__(self, options: StripeOptions, context: GatewayContext) -> None:
        super().__init__(options, context)
        self.options = options
        self._http: stripe.AIOHTTPClient | None = None
        self._client: stripe.StripeClient | None = None

    async def start(self) -> None:
        if self._client is not None:
            return
        self._http = stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout_seconds)
        )
        base: dict[str, str] = {}
        if self.options.api_base:
            base["api"] = self.options.api_base.rstrip("/")
        self._client = stripe.StripeClient(
            self.options.api_key.get_secret_value(),
            base_addresses=cast(Any, base),
            http_client=self._http,
            max_network_retries=self.options.max_network_retries,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()  # type: ignore[no-untyped-call]
        self._http = None
        self._client = None

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            raise RuntimeError("start() the stripe gateway before using it")
        return self._client

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        now = self.context.now()
        expires_at = min(max(request.expires_at, now + MIN_EXPIRY), now + MAX_EXPIRY)
        currency = request.currency.lower()
        metadata = {"order_id": request.order_id}
        if request.customer_ref is not None:
            metadata["customer_ref"] = request.customer_ref
        if request.instance_id is not None:
            metadata["instance_id"] = request.instance_id
        line_items: list[stripe.params.checkout.SessionCreateParamsLineItem] = []
        for line in request.lines:
            if line.interval is not None and line.sku is not None:
                key = price_lookup_key(request.instance_id, line, currency)
                price_id = await self._item_price(key, line, line.interval, currency)
                line_items.append({"quantity": line.quantity, "price": price_id})
                continue
            price: stripe.params.checkout.SessionCreateParamsLineItemPriceData = {
                "currency": currency,
                "unit_amount": line.unit_amount,
                "product_data": {"name": line.name},
            }
            if line.interval is not None:
                price["recurring"] = {"interval": line.interval}
            line_items.append({"quantity": line.quantity, "price_data": price})
        params: stripe.params.checkout.SessionCreateParams = {
            "mode": "payment",
            "line_items": line_items,
            "client_reference_id": request.order_id,
            "metadata": metadata,
            "success_url": with_session_placeholder(request.success_url),
            "cancel_url": request.cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        if request.is_subscription:
            # One-off lines ride on the first invoice; Stripe refuses payment_intent_data
            # in this mode, the subscription's invoices make their own payments.
            params["mode"] = "subscription"
            params["subscription_data"] = {"metadata": metadata}
            if request.description:
                params["subscription_data"]["description"] = request.description
        else:
            params["payment_intent_data"] = {"metadata": metadata}
            if request.description:
                params["payment_intent_data"]["description"] = request.description
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params,
                {"idempotency_key": derived_key("checkout", request.idempotency_key)},
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        if session.url is None:
            raise GatewayError("stripe returned a checkout session without a URL", transient=False)
        if session.amount_total is not None and session.amount_total != request.total:
            raise GatewayError(
                f"stripe computed {session.amount_total} for an order of {request.total}",
                transient=False,
            )
        return CheckoutSession(
            gateway=self.name,
            session_id=session.id,
            url=session.url,
            expires_at=datetime.fromtimestamp(session.expires_at, tz=UTC),
        )

    async def _item_price(
        self, lookup_key: str, line: CheckoutLine, interval: Interval, currency: str
    ) -> str:
        """The id of the Price this recurring line's item uses, created on first sale.

        Looked up before creating, and created under an idempotency key derived from the
        lookup key, so concurrent or retried checkouts of one item end with one Price.
        A Price archived in the dashboard is not used again: a new one takes its key.
        """
        try:
            active, archived = await self._price_by_key(lookup_key)
            if active is not None:
                return active
            params: stripe.params.PriceCreateParams = {
                "currency": currency,
                "unit_amount": line.unit_amount,
                "recurring": {"interval": interval},
                "product_data": {"name": line.name},
                "lookup_key": lookup_key,
                "metadata": {"sku": str(line.sku)},
            }
            if archived is not None:
                params["transfer_lookup_key"] = True
            key = lookup_key if archived is None else f"{lookup_key}:after:{archived}"
            try:
                price = await self.client.v1.prices.create_async(
                    params, {"idempotency_key": derived_key("price", key)}
                )
            except (stripe.InvalidRequestError, stripe.IdempotencyError):
                # Another process created it a moment ago (the key is taken, or the item
                # was renamed under the same idempotency key): use the one that exists.
                active, _ = await self._price_by_key(lookup_key)
                if active is None:
                    raise
                return active
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        return price.id

    async def _price_by_key(self, lookup_key: str) -> tuple[str | None, str | None]:
        """(the active Price with this lookup key, an archived one) — either may be None."""
        found = await self.client.v1.prices.list_async({"lookup_keys": [lookup_key], "limit": 1})
        archived = None
        for existing in found.data:
            if existing.active:
                return existing.id, None
            archived = existing.id
        return None, archived

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> list[GatewayEvent]:
        """Stripe's own verifier checks the signatures; we check the time window ourselves
        with the injectable clock, in both directions (the SDK ignores future times)."""
        header = signing.header_value(headers, SIGNATURE_HEADER)
        parsed = signing.parse(header, SIGNATURE_HEADER)
        secrets = [
            self.options.webhook_secret.get_secret_value(),
            *(s.get_secret_value() for s in self.options.previous_webhook_secrets),
        ]
        for secret in secrets:
            try:
                stripe.WebhookSignature.verify_header(body, header, secret, tolerance=None)
            except stripe.SignatureVerificationError:
                continue
            except UnicodeDecodeError:
                raise WebhookVerificationError("webhook body is not UTF-8") from None
            break
        else:
            raise WebhookVerificationError("webhook signature does not match")
        signing.check_timestamp(
            parsed.timestamp, self.context.now(), self.options.signature_tolerance_seconds
        )
        return parse_stripe_event(body)

    async def fetch_session(self, session_id: str) -> SessionState:
        try:
            session = await self.client.v1.checkout.sessions.retrieve_async(
                session_id, {"expand": ["payment_intent"]}
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        return session_state(session.to_dict())

    async def refund(
        self, session_id: str, amount: int | None, idempotency_key: str
    ) -> RefundResult:
        try:
            session = await self.client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        if session.payment_status != "paid":
            raise GatewayError(f"session {session_id} has no payment to refund", transient=False)
        metadata = {"session_id": session_id}
        for key in ("order_id", "instance_id"):
            if session.metadata and key in session.metadata:
                metadata[key] = session.metadata[key]
        intent_id: str | None
        if session.mode == "subscription":
            # The checkout's money was paid through the subscription's first invoice.
            invoice_id = _id_of(session.invoice)
            intent_id = None if invoice_id is None else await self._invoice_intent(invoice_id)
            if invoice_id is not None:
                metadata["invoice_id"] = invoice_id
            subscription_id = _id_of(session.subscription)
            if subscription_id is not None:
                metadata["subscription_id"] = subscription_id
        else:
            intent_id = _id_of(session.payment_intent)
        if intent_id is None:
            raise GatewayError(f"session {session_id} has no payment to refund", transient=False)
        params: stripe.params.RefundCreateParams = {
            "payment_intent": intent_id,
            "metadata": metadata,
        }
        if amount is not None:
            params["amount"] = amount
        try:
            refund = await self.client.v1.refunds.create_async(
                params, {"idempotency_key": derived_key("refund", idempotency_key)}
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        status: Literal["succeeded", "pending", "failed"] = "pending"
        if refund.status == "succeeded":
            status = "succeeded"
        elif refund.status in ("failed", "canceled"):
            status = "failed"
        return RefundResult(refund.id, refund.amount, refund.currency.upper(), status)

    async def _invoice_intent(self, invoice_id: str) -> str | None:
        """The payment intent that paid an invoice (API 2025+ keeps it off the invoice)."""
        try:
            payments = await self.client.v1.invoice_payments.list_async(
                {"invoice": invoice_id, "status": "paid", "limit": 1}
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        for payment in payments.data:
            return _id_of(payment.payment.payment_intent)
        return None

    async def expire_session(self, session_id: str) -> None:
        state = await self.fetch_session(session_id)
        if state.status == "expired":
            return
        if state.status == "complete":
            raise GatewayError(f"session {session_id} is complete; paid wins", transient=False)
        try:
            await self.client.v1.checkout.sessions.expire_async(session_id)
        except stripe.StripeError as error:
            raise gateway_error(error) from error

    async def resolve_event(self, event: GatewayEvent) -> GatewayEvent:
        """Fill in what a Stripe event leaves out, from Stripe itself.

        Refunds made in the dashboard and disputes carry no id of ours: the Checkout
        Session that took the payment gives the order and deployment (our payment intents
        share its metadata); failing that, the invoice the payment paid gives the
        subscription. An event naming an invoice gets the period that invoice pays for,
        and one about the checkout's own invoice gets the checkout's session and order.
        """
        try:
            if event.order_id is None and event.invoice_id is None and event.payment_ref:
                event = await self._resolve_payment(event, event.payment_ref)
            if event.invoice_id is not None and (
                event.period_end is None or event.subscription_id is None
            ):
                event = await self._resolve_invoice(event, event.invoice_id)
            if event.first_invoice and event.session_id is None and event.subscription_id:
                event = await self._resolve_checkout(event, event.subscription_id)
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        except ValueError as error:  # an object not shaped as Stripe documents it
            raise GatewayError(f"stripe answered {error!r}", transient=False) from error
        return event

    async def _resolve_payment(self, event: GatewayEvent, payment_ref: str) -> GatewayEvent:
        intent_id: str | None = payment_ref
        if payment_ref.startswith("ch_"):
            charge = await self.client.v1.charges.retrieve_async(payment_ref)
            intent_id = _id_of(charge.payment_intent)
        if intent_id is None:
            return event
        found = await self.client.v1.checkout.sessions.list_async(
            {"payment_intent": intent_id, "limit": 1}
        )
        if found.data:
            state = session_state(found.data[0].to_dict())
            return replace(
                event,
                session_id=state.session_id,
                order_id=state.order_id,
                instance_id=state.instance_id,
            )
        paid = await self.client.v1.invoice_payments.list_async(
            {"payment": {"type": "payment_intent", "payment_intent": intent_id}, "limit": 1}
        )
        if not paid.data:
            return event
        return replace(event, invoice_id=_id_of(paid.data[0].invoice))

    async def _resolve_invoice(self, event: GatewayEvent, invoice_id: str) -> GatewayEvent:
        invoice = (await self.client.v1.invoices.retrieve_async(invoice_id)).to_dict()
        first = is_first_invoice(invoice)
        metadata = invoice_metadata(invoice)
        order_id = metadata.get("order_id") if first else None
        instance_id = metadata.get("instance_id")
        return replace(
            event,
            subscription_id=event.subscription_id or invoice_subscription_id(invoice),
            period_end=event.period_end or invoice_period_end(invoice),
            first_invoice=event.first_invoice or first,
            order_id=event.order_id or (order_id if isinstance(order_id, str) else None),
            instance_id=event.instance_id
            or (instance_id if isinstance(instance_id, str) else None),
        )

    async def _resolve_checkout(self, event: GatewayEvent, subscription_id: str) -> GatewayEvent:
        found = await self.client.v1.checkout.sessions.list_async(
            {"subscription": subscription_id, "limit": 1}
        )
        if not found.data:
            return event
        state = session_state(found.data[0].to_dict())
        return replace(
            event,
            session_id=state.session_id,
            order_id=event.order_id or state.order_id,
            instance_id=event.instance_id or state.instance_id,
        )

    # -- subscriptions -------------------------------------------------------------

    async def _subscription(self, subscription_id: str) -> stripe.Subscription:
        try:
            return await self.client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as error:
            raise gateway_error(error) from error

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> None:
        subscription = await self._subscription(subscription_id)
        if subscription.status in ENDED_STATUSES:
            return
        try:
            if not at_period_end:
                await self.client.v1.subscriptions.cancel_async(subscription_id)
            elif not subscription.cancel_at_period_end:
                await self.client.v1.subscriptions.update_async(
                    subscription_id, {"cancel_at_period_end": True}
                )
        except stripe.StripeError as error:
            raise gateway_error(error) from error

    async def resume_subscription(self, subscription_id: str) -> None:
        """Undo a cancellation, whichever way it was made: ours sets
        ``cancel_at_period_end``, the billing portal and the dashboard set ``cancel_at``.
        Each is cleared by a call of its own (Stripe may refuse the two together), and
        a subscription with neither set is left alone."""
        subscription = await self._subscription(subscription_id)
        if subscription.status in ENDED_STATUSES:
            raise GatewayError(
                f"subscription {subscription_id} has ended; it cannot be resumed",
                transient=False,
            )
        try:
            if subscription.cancel_at_period_end:
                subscription = await self.client.v1.subscriptions.update_async(
                    subscription_id, {"cancel_at_period_end": False}
                )
            if subscription.cancel_at is not None:
                await self.client.v1.subscriptions.update_async(subscription_id, {"cancel_at": ""})
        except stripe.StripeError as error:
            raise gateway_error(error) from error

    async def manage_url(self, subscription_id: str, return_url: str) -> str:
        """A billing portal session of the subscription's customer (the portal must be
        enabled in the Stripe dashboard, or Stripe refuses and this raises)."""
        customer = _id_of((await self._subscription(subscription_id)).customer)
        if customer is None:
            raise GatewayError(f"subscription {subscription_id} has no customer", transient=False)
        try:
            portal = await self.client.v1.billing_portal.sessions.create_async(
                {"customer": customer, "return_url": return_url}
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        return portal.url


def _id_of(value: str | stripe.StripeObject | None) -> str | None:
    """An id the SDK gives either as a string or as the expanded object."""
    if value is None or isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None
