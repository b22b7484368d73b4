"""The ``stripe`` gateway: Stripe Checkout Sessions through the official SDK's async API.

Every SDK call lives in this module; ``stripe_events`` only translates event payloads.
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
    CheckoutRequest,
    CheckoutSession,
    GatewayEvent,
    RefundResult,
    SessionState,
)
from payments.stripe_events import parse_stripe_event, session_state

# Stripe accepts expires_at from 30 minutes to 24 hours after creation; keep a margin so
# the time the request spends in flight cannot push it out of the window.
MIN_EXPIRY = timedelta(minutes=31)
MAX_EXPIRY = timedelta(hours=23, minutes=59)
SIGNATURE_HEADER = "Stripe-Signature"


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
        params: stripe.params.checkout.SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": line.quantity,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": line.unit_amount,
                        "product_data": {"name": line.name},
                    },
                }
                for line in request.lines
            ],
            "client_reference_id": request.order_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": with_session_placeholder(request.success_url),
            "cancel_url": request.cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
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
        payment_intent = session.payment_intent
        if payment_intent is None or session.payment_status != "paid":
            raise GatewayError(f"session {session_id} has no payment to refund", transient=False)
        intent_id = payment_intent if isinstance(payment_intent, str) else payment_intent.id
        metadata = {"session_id": session_id}
        for key in ("order_id", "instance_id"):
            if session.metadata and key in session.metadata:
                metadata[key] = session.metadata[key]
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
        """Refunds made in the dashboard and disputes carry no order id of ours; find the
        Checkout Session that created the payment and take the ids (order, deployment)
        from its metadata, which our payment intents share."""
        if event.order_id is not None or event.payment_ref is None:
            return event
        try:
            intent_id = event.payment_ref
            if intent_id.startswith("ch_"):
                charge = await self.client.v1.charges.retrieve_async(intent_id)
                if charge.payment_intent is None:
                    return event
                pi = charge.payment_intent
                intent_id = pi if isinstance(pi, str) else pi.id
            found = await self.client.v1.checkout.sessions.list_async(
                {"payment_intent": intent_id, "limit": 1}
            )
        except stripe.StripeError as error:
            raise gateway_error(error) from error
        if not found.data:
            return event
        state = session_state(found.data[0].to_dict())
        return replace(
            event,
            session_id=state.session_id,
            order_id=state.order_id,
            instance_id=state.instance_id,
        )
