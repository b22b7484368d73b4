"""The ``fake`` gateway: a complete stand-in for a hosted payment provider.

It serves its checkout page from the shop's own web app and delivers every outcome as a
signed webhook over real HTTP, with retries and switchable faults, so developers and
tests exercise exactly the code paths a real gateway would. It refuses to run in
production because it takes no money.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import tempfile
from calendar import monthrange
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from yarl import URL

from payments import signing
from payments.errors import GatewayConfigError, GatewayError, WebhookVerificationError
from payments.fake_pages import (
    CheckoutPage,
    InvoiceRow,
    ManagePage,
    PageLine,
    render_checkout_page,
    render_manage_page,
)
from payments.gateway import Gateway, GatewayContext, GatewayOptions
from payments.models import (
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    GatewayEvent,
    Interval,
    RefundResult,
    SessionState,
    check_currency,
    check_utc,
)
from payments.web_guard import JSON_OR_FORM, origin_of, same_site

FakeStatus = Literal["open", "pending", "paid", "failed", "expired"]
DisputeStatus = Literal["open", "won", "lost"]
SubscriptionStatus = Literal["active", "past_due", "ended"]
#: "open" is an invoice whose payment failed and waits for the member to fix it; "void"
#: one left open when its subscription ended.
InvoiceStatus = Literal["paid", "open", "void"]

_EVENT_TYPES = frozenset(kind.value for kind in EventKind)

ACTIONS = (
    "pay",
    "decline",
    "pay-later",
    "cancel",
    "expire",
    "refund",
    "dispute",
    "dispute-won",
    "dispute-lost",
)

#: Buttons of a subscription (``/fake-gateway/subscriptions/{id}/{action}``): the member's
#: (cancel at period end, resume, fix-payment) and the tester's.
SUBSCRIPTION_ACTIONS = ("renew", "fail-next-renewal", "cancel", "resume", "fix-payment")
#: Buttons of one invoice of a subscription (``/fake-gateway/invoices/{id}/{action}``).
INVOICE_ACTIONS = ("refund", "dispute-lost")


class FakeOptions(GatewayOptions):
    webhook_secret: SecretStr = Field(min_length=1)
    previous_webhook_secrets: tuple[SecretStr, ...] = ()
    checkout_ttl_minutes: int = Field(default=24 * 60, ge=1)
    max_delivery_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    pay_later_settle_seconds: float = Field(default=5.0, ge=0)
    signature_tolerance_seconds: int = Field(default=signing.DEFAULT_TOLERANCE_SECONDS, ge=1)
    state_path: Path | None = None
    #: Explicit opt-in to serve a real Discord guild (a test server) with a gateway that
    #: takes no money; read by the storefront's settings, never by the gateway.
    allow_with_discord: bool = False


class FaultPlan(BaseModel):
    """Misbehaviour to inject into webhook deliveries, for tests.

    Every switch applies to each event sent while the plan is set (limited to
    ``event_types`` when given). Tampering keeps a valid signature, as a confused
    gateway would; ``bad_signature`` signs with a wrong secret, as a forger would.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    duplicate: bool = False
    reorder: bool = False
    delay_seconds: float = Field(default=0.0, ge=0)
    drop: bool = False
    bad_signature: bool = False
    amount_delta: int = 0
    currency: str | None = None
    order_id: str | None = None
    event_types: frozenset[EventKind] | None = None

    def applies_to(self, kind: str) -> bool:
        return self.event_types is None or kind in self.event_types


class FakeSessionNotFound(GatewayError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no fake checkout session {session_id!r}", transient=False)


class FakeSubscriptionNotFound(GatewayError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no fake {what}", transient=False)


class IllegalAction(GatewayError):
    """The action does not fit the session's state (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


@dataclass
class FakeRefund:
    refund_id: str
    amount: int
    idempotency_key: str


@dataclass
class FakeSession:
    session_id: str
    order_id: str
    idempotency_key: str
    fingerprint: str
    lines: list[PageLine]
    total: int
    currency: str
    success_url: str
    cancel_url: str
    description: str
    customer_ref: str | None
    created_at: datetime
    expires_at: datetime
    status: FakeStatus = "open"
    refunds: list[FakeRefund] = field(default_factory=list)
    dispute: DisputeStatus | None = None
    notice: str = ""
    instance_id: str | None = None
    interval: Interval | None = None
    #: What each renewal of the subscription this checkout starts will charge.
    recurring_amount: int = 0
    subscription_id: str | None = None

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    def state(self) -> SessionState:
        status: Literal["open", "complete", "expired"]
        if self.status == "open":
            status = "open"
        elif self.status == "expired":
            status = "expired"
        else:
            status = "complete"
        return SessionState(
            session_id=self.session_id,
            order_id=self.order_id,
            status=status,
            paid=self.status == "paid",
            amount=self.total,
            currency=self.currency,
            payment_failed=self.status == "failed",
            instance_id=self.instance_id,
            subscription_id=self.subscription_id,
        )

    def public(self) -> dict[str, Any]:
        """What scripts get back as JSON; enough to assert on without internals."""
        return {
            "session_id": self.session_id,
            "order_id": self.order_id,
            "status": self.status,
            "amount": self.total,
            "currency": self.currency,
            "refunded": self.refunded,
            "refunds": [asdict(r) for r in self.refunds],
            "dispute": self.dispute,
            "expires_at": self.expires_at.isoformat(),
            "notice": self.notice,
            "subscription_id": self.subscription_id,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FakeSession:
        data = dict(data)
        data["lines"] = [PageLine(**line) for line in data["lines"]]
        data["refunds"] = [FakeRefund(**refund) for refund in data["refunds"]]
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        data["expires_at"] = datetime.fromisoformat(data["expires_at"])
        return cls(**data)


def add_intervals(anchor: datetime, interval: Interval, count: int) -> datetime:
    """``anchor`` plus ``count`` calendar months or years, as card billing counts them.

    Counted from the anchor rather than step by step, so a subscription started on the
    31st renews on the last day of shorter months and on the 31st again after them.
    """
    months = anchor.month - 1 + count * (1 if interval == "month" else 12)
    year, month = anchor.year + months // 12, months % 12 + 1
    return anchor.replace(year=year, month=month, day=min(anchor.day, monthrange(year, month)[1]))


@dataclass
class FakeInvoice:
    invoice_id: str
    amount: int
    period_start: datetime
    period_end: datetime
    status: InvoiceStatus
    #: The invoice the checkout paid; its refunds and disputes are the session's own.
    first: bool = False
    refunds: list[FakeRefund] = field(default_factory=list)
    dispute: DisputeStatus | None = None

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)


@dataclass
class FakeSubscription:
    """A subscription started by paying a checkout with recurring lines.

    Periods are counted from ``anchor`` (the first payment): ``periods`` paid so far make
    ``current_period_end``. Renewals happen when the gateway's clock passes that end.
    """

    subscription_id: str
    session_id: str
    order_id: str
    amount: int
    currency: str
    interval: Interval
    anchor: datetime
    periods: int = 1
    status: SubscriptionStatus = "active"
    cancel_at_period_end: bool = False
    fail_next_renewal: bool = False
    return_url: str | None = None
    instance_id: str | None = None
    ended_at: datetime | None = None
    notice: str = ""
    invoices: list[FakeInvoice] = field(default_factory=list)

    @property
    def current_period_end(self) -> datetime:
        return add_intervals(self.anchor, self.interval, self.periods)

    def open_invoice(self) -> FakeInvoice | None:
        return next((i for i in self.invoices if i.status == "open"), None)

    def public(self) -> dict[str, Any]:
        """What scripts get back as JSON."""
        return {
            "subscription_id": self.subscription_id,
            "session_id": self.session_id,
            "order_id": self.order_id,
            "status": self.status,
            "interval": self.interval,
            "amount": self.amount,
            "currency": self.currency,
            "current_period_end": self.current_period_end.isoformat(),
            "cancel_at_period_end": self.cancel_at_period_end,
            "fail_next_renewal": self.fail_next_renewal,
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "notice": self.notice,
            "invoices": [
                {
                    "invoice_id": i.invoice_id,
                    "amount": i.amount,
                    "status": i.status,
                    "period_start": i.period_start.isoformat(),
                    "period_end": i.period_end.isoformat(),
                    "first": i.first,
                    "refunded": i.refunded,
                    "dispute": i.dispute,
                }
                for i in self.invoices
            ],
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["anchor"] = self.anchor.isoformat()
        data["ended_at"] = None if self.ended_at is None else self.ended_at.isoformat()
        for invoice in data["invoices"]:
            invoice["period_start"] = invoice["period_start"].isoformat()
            invoice["period_end"] = invoice["period_end"].isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FakeSubscription:
        data = dict(data)
        data["anchor"] = datetime.fromisoformat(data["anchor"])
        if data["ended_at"] is not None:
            data["ended_at"] = datetime.fromisoformat(data["ended_at"])
        invoices = []
        for raw in data["invoices"]:
            invoice = dict(raw)
            invoice["period_start"] = datetime.fromisoformat(invoice["period_start"])
            invoice["period_end"] = datetime.fromisoformat(invoice["period_end"])
            invoice["refunds"] = [FakeRefund(**r) for r in invoice["refunds"]]
            invoices.append(FakeInvoice(**invoice))
        data["invoices"] = invoices
        return cls(**data)


@dataclass
class Delivery:
    """How one webhook delivery went, for tests and for a developer's curiosity."""

    event_id: str
    type: str
    status: Literal["queued", "delivered", "failed", "dropped"] = "queued"
    responses: list[int | None] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.responses)


@dataclass
class _Outgoing:
    seq: int
    payload: dict[str, Any]
    bad_signature: bool = False
    delay_seconds: float = 0.0


def _request_fingerprint(request: CheckoutRequest) -> str:
    return json.dumps(
        [
            request.order_id,
            # The interval only when set, so sessions stored before subscriptions keep
            # their fingerprint and a retried checkout still finds them.
            [
                [line.name, line.quantity, line.unit_amount]
                + ([line.interval] if line.interval else [])
                for line in request.lines
            ],
            request.total,
            request.currency,
            request.success_url,
            request.cancel_url,
            request.expires_at.isoformat(),
            request.description,
            request.customer_ref,
            request.instance_id,
        ]
    )


class FakeGateway(Gateway):
    name: ClassVar[str] = "fake"
    Options: ClassVar[type[GatewayOptions]] = FakeOptions
    takes_real_money: ClassVar[bool] = False
    display_name: ClassVar[str] = "Test payment (no money)"
    supports_subscriptions: ClassVar[bool] = True

    def __init__(self, options: FakeOptions, context: GatewayContext) -> None:
        if context.environment == "production":
            raise GatewayConfigError(
                "the fake gateway takes no real payments and refuses to run with "
                'environment = "production"'
            )
        super().__init__(options, context)
        self.options = options
        self.faults = FaultPlan()
        self.deliveries: list[Delivery] = []
        self._sessions: dict[str, FakeSession] = {}
        self._by_key: dict[str, str] = {}
        self._subscriptions: dict[str, FakeSubscription] = {}
        self._outbox: dict[int, _Outgoing] = {}
        self._seq = 0
        self._held: _Outgoing | None = None
        self._queue: asyncio.Queue[_Outgoing] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        if self._worker is not None:
            return
        self._load()
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.delivery_timeout_seconds)
        )
        self._queue = asyncio.Queue()
        for outgoing in sorted(self._outbox.values(), key=lambda o: o.seq):
            self._queue.put_nowait(outgoing)
        self._worker = asyncio.create_task(self._deliver_forever(), name="fake-gateway-webhooks")
        for session in self._sessions.values():
            if session.status == "pending":
                self._schedule_settle(session.session_id)

    async def close(self) -> None:
        """Stop sending; undelivered webhooks stay in the state file for the next start."""
        tasks = [*self._timers, *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers.clear()
        self._worker = None
        self._queue = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def drain(self) -> None:
        """Wait until every due event has been delivered, given up on or dropped.

        Pending "pay later" payments are settled first, and an event held back by the
        reorder fault is released, so nothing is left waiting on a later event.
        """
        if self._queue is None:
            raise RuntimeError("start() the fake gateway before draining it")
        while self._timers:
            await asyncio.gather(*self._timers, return_exceptions=True)
        if self._held is not None:
            held, self._held = self._held, None
            self._queue.put_nowait(held)
        await self._queue.join()

    # -- Gateway interface ---------------------------------------------------------

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        fingerprint = _request_fingerprint(request)
        existing_id = self._by_key.get(request.idempotency_key)
        if existing_id is not None:
            existing = self._sessions[existing_id]
            if existing.fingerprint != fingerprint:
                raise GatewayError(
                    "idempotency key reused with different checkout parameters",
                    transient=False,
                )
            return self._checkout_session(existing)
        now = self.context.now()
        expires_at = min(
            request.expires_at, now + timedelta(minutes=self.options.checkout_ttl_minutes)
        )
        session = FakeSession(
            session_id=f"fs_{secrets.token_hex(12)}",
            order_id=request.order_id,
            idempotency_key=request.idempotency_key,
            fingerprint=fingerprint,
            lines=[
                PageLine(line.name, line.quantity, line.unit_amount, line.interval)
                for line in request.lines
            ],
            total=request.total,
            currency=request.currency,
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            description=request.description,
            customer_ref=request.customer_ref,
            created_at=now,
            expires_at=expires_at,
            instance_id=request.instance_id,
            interval=request.interval,
            recurring_amount=request.recurring_amount,
        )
        self._sessions[session.session_id] = session
        self._by_key[request.idempotency_key] = session.session_id
        self._save()
        return self._checkout_session(session)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> list[GatewayEvent]:
        signing.verify(
            body,
            signing.header_value(headers, signing.SIGNATURE_HEADER),
            self._secrets(),
            self.context.now(),
            self.options.signature_tolerance_seconds,
        )
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookVerificationError("webhook body is not JSON") from None
        return parse_fake_event(payload)

    async def fetch_session(self, session_id: str) -> SessionState:
        return self._get(session_id).state()

    async def refund(
        self, session_id: str, amount: int | None, idempotency_key: str
    ) -> RefundResult:
        session = self._get(session_id)
        refund = self._refund(session, amount, idempotency_key)
        return RefundResult(refund.refund_id, refund.amount, session.currency, "succeeded")

    async def expire_session(self, session_id: str) -> None:
        session = self._get(session_id)
        if session.status == "expired":
            return
        self._act(session, "expire", None)

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> None:
        subscription = self._get_subscription(subscription_id)
        if subscription.status == "ended":
            return
        if at_period_end:
            self._act_subscription(subscription, "cancel")
        else:
            self._end(subscription)
            self._save()

    async def resume_subscription(self, subscription_id: str) -> None:
        self._act_subscription(self._get_subscription(subscription_id), "resume")

    async def manage_url(self, subscription_id: str, return_url: str) -> str:
        """The fake's own "billing portal"; remembers ``return_url`` for its way back,
        like a Stripe portal session, so the page never links where a URL tells it to."""
        if origin_of(return_url) is None:
            raise GatewayError(f"return_url {return_url!r} is not an http(s) URL", transient=False)
        subscription = self._get_subscription(subscription_id)
        subscription.return_url = return_url
        self._save()
        return self.context.url(f"fake-gateway/manage/{subscription_id}")

    def add_routes(self, app: web.Application) -> None:
        """The page is reached by following a link; the rest only from our own pages
        or from scripts, never from another site (see ``payments.web_guard``)."""
        public_url = self.context.public_url
        app.router.add_get("/fake-gateway/checkout/{session_id}", self._page_handler)
        app.router.add_get(
            "/fake-gateway/sessions/{session_id}",
            same_site(self._state_handler, public_url=public_url),
        )
        app.router.add_post(
            "/fake-gateway/sessions/{session_id}/{action}",
            same_site(
                self._action_handler, public_url=public_url, bodies=JSON_OR_FORM, empty_body=True
            ),
        )
        app.router.add_get("/fake-gateway/manage/{subscription_id}", self._manage_handler)
        # Registered before the per-subscription routes, which would otherwise take
        # "advance" for a subscription id.
        app.router.add_post(
            "/fake-gateway/subscriptions/advance",
            same_site(self._advance_handler, public_url=public_url, empty_body=True),
        )
        app.router.add_get(
            "/fake-gateway/subscriptions/{subscription_id}",
            same_site(self._subscription_state_handler, public_url=public_url),
        )
        app.router.add_post(
            "/fake-gateway/subscriptions/{subscription_id}/{action}",
            same_site(
                self._subscription_action_handler,
                public_url=public_url,
                bodies=JSON_OR_FORM,
                empty_body=True,
            ),
        )
        app.router.add_post(
            "/fake-gateway/invoices/{invoice_id}/{action}",
            same_site(
                self._invoice_action_handler,
                public_url=public_url,
                bodies=JSON_OR_FORM,
                empty_body=True,
            ),
        )
        app.router.add_get(
            "/fake-gateway/faults", same_site(self._faults_get_handler, public_url=public_url)
        )
        app.router.add_post(
            "/fake-gateway/faults", same_site(self._faults_post_handler, public_url=public_url)
        )

    # -- test and script API -------------------------------------------------------

    async def perform(
        self, session_id: str, action: str, amount: int | None = None
    ) -> dict[str, Any]:
        """Press one of the page's buttons; returns the session as the JSON API shows it."""
        session = self._get(session_id)
        self._act(session, action, amount)
        return session.public()

    def session(self, session_id: str) -> dict[str, Any]:
        return self._get(session_id).public()

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        return self._get_subscription(subscription_id).public()

    async def perform_subscription(self, subscription_id: str, action: str) -> dict[str, Any]:
        """Press one of a subscription's buttons (``SUBSCRIPTION_ACTIONS``)."""
        subscription = self._get_subscription(subscription_id)
        self._act_subscription(subscription, action)
        return subscription.public()

    async def perform_invoice(
        self, invoice_id: str, action: str, amount: int | None = None
    ) -> dict[str, Any]:
        """Press one of an invoice's buttons (``INVOICE_ACTIONS``); returns its subscription."""
        subscription, invoice = self._get_invoice(invoice_id)
        self._act_invoice(subscription, invoice, action, amount)
        return subscription.public()

    def advance_subscriptions(self) -> list[dict[str, Any]]:
        """Bill every subscription whose period the clock has passed; returns those changed.

        Call it after moving the clock (tests, the sandbox): renewals follow the injected
        clock instead of a timer, so a month passes in one call and never by waiting.
        Each subscription is also brought up to date whenever it is looked at.
        """
        return [
            subscription.public()
            for subscription in list(self._subscriptions.values())
            if self._advance(subscription)
        ]

    def render_webhook(
        self, payload: Mapping[str, Any], *, bad_signature: bool = False
    ) -> tuple[bytes, dict[str, str]]:
        """The exact bytes and headers the fake sends for ``payload``."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(self.context.now().timestamp())
        secret = (
            "not-the-webhook-secret"
            if bad_signature
            else self.options.webhook_secret.get_secret_value()
        )
        return body, {
            "Content-Type": "application/json",
            signing.SIGNATURE_HEADER: signing.sign(body, secret, timestamp),
        }

    # -- session state machine -----------------------------------------------------

    def _secrets(self) -> list[str]:
        return [
            self.options.webhook_secret.get_secret_value(),
            *(s.get_secret_value() for s in self.options.previous_webhook_secrets),
        ]

    def _checkout_session(self, session: FakeSession) -> CheckoutSession:
        return CheckoutSession(
            gateway=self.name,
            session_id=session.session_id,
            url=self.context.url(f"fake-gateway/checkout/{session.session_id}"),
            expires_at=session.expires_at,
        )

    def _get(self, session_id: str) -> FakeSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise FakeSessionNotFound(session_id)
        if session.status == "open" and self.context.now() >= session.expires_at:
            session.status = "expired"
            session.notice = "This checkout link has expired."
            self._emit(session, EventKind.CHECKOUT_EXPIRED, session.total)
        return session

    def _act(self, session: FakeSession, action: str, amount: int | None) -> None:
        status = session.status
        if action == "pay" and status in ("open", "pending"):
            session.status = "paid"
            session.notice = "Payment received."
            subscription = self._start_subscription(session)
            self._emit(session, EventKind.PAYMENT_SUCCEEDED, session.total)
            if subscription is not None:
                # As at Stripe, the first invoice is reported paid too; it is marked so
                # the shop never takes it for a renewal.
                self._emit_subscription(
                    subscription, EventKind.INVOICE_PAID, session.total, subscription.invoices[0]
                )
        elif action == "decline" and status in ("open", "pending"):
            # A declined card leaves the checkout open for another try, as at Stripe;
            # a delayed payment that bounces fails the completed session for good.
            session.status = "open" if status == "open" else "failed"
            session.notice = "The payment was declined."
            self._emit(session, EventKind.PAYMENT_FAILED, session.total)
        elif action == "pay-later" and status == "open":
            session.status = "pending"
            session.notice = "Payment is processing."
            self._emit(session, EventKind.PAYMENT_PENDING, session.total)
            self._schedule_settle(session.session_id)
        elif action in ("cancel", "expire") and status == "open":
            session.status = "expired"
            session.notice = "This checkout was cancelled." if action == "cancel" else ""
            self._emit(session, EventKind.CHECKOUT_EXPIRED, session.total)
        elif action == "refund":
            self._refund(session, amount, f"page-{secrets.token_hex(8)}")
            return
        elif action == "dispute" and status == "paid" and session.dispute is None:
            session.dispute = "open"
            self._emit(session, EventKind.DISPUTE_OPENED, session.total - session.refunded)
        elif action in ("dispute-won", "dispute-lost") and session.dispute == "open":
            won = action == "dispute-won"
            session.dispute = "won" if won else "lost"
            kind = EventKind.DISPUTE_WON if won else EventKind.DISPUTE_LOST
            self._emit(session, kind, session.total - session.refunded)
        elif action not in ACTIONS:
            raise IllegalAction(f"unknown action {action!r}")
        else:
            raise IllegalAction(f"cannot {action} a session that is {self._describe(session)}")
        self._save()

    @staticmethod
    def _describe(session: FakeSession) -> str:
        if session.dispute is not None:
            return f"{session.status} with a dispute {session.dispute}"
        return session.status

    def _refund(self, session: FakeSession, amount: int | None, key: str) -> FakeRefund:
        for refund in session.refunds:
            if refund.idempotency_key == key:
                return refund
        if session.status != "paid":
            raise IllegalAction(f"cannot refund a session that is {session.status}")
        if session.dispute in ("open", "lost"):
            raise IllegalAction("cannot refund a disputed payment")
        amount = _refund_amount(amount, session.total - session.refunded)
        refund = FakeRefund(f"fr_{secrets.token_hex(8)}", amount, key)
        session.refunds.append(refund)
        self._emit(session, EventKind.REFUND_SUCCEEDED, amount, subject_id=refund.refund_id)
        self._save()
        return refund

    def _schedule_settle(self, session_id: str) -> None:
        if self._queue is None:
            return
        task = asyncio.create_task(self._settle_later(session_id))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _settle_later(self, session_id: str) -> None:
        await asyncio.sleep(self.options.pay_later_settle_seconds)
        session = self._sessions[session_id]
        if session.status == "pending":
            self._act(session, "pay", None)

    # -- subscription state machine ------------------------------------------------

    def _start_subscription(self, session: FakeSession) -> FakeSubscription | None:
        if session.interval is None or session.subscription_id is not None:
            return None
        now = self.context.now()
        subscription = FakeSubscription(
            subscription_id=f"fsub_{secrets.token_hex(12)}",
            session_id=session.session_id,
            order_id=session.order_id,
            amount=session.recurring_amount,
            currency=session.currency,
            interval=session.interval,
            anchor=now,
            instance_id=session.instance_id,
        )
        subscription.invoices.append(
            FakeInvoice(
                invoice_id=f"fin_{secrets.token_hex(12)}",
                amount=session.total,
                period_start=now,
                period_end=subscription.current_period_end,
                status="paid",
                first=True,
            )
        )
        self._subscriptions[subscription.subscription_id] = subscription
        session.subscription_id = subscription.subscription_id
        return subscription

    def _get_subscription(self, subscription_id: str) -> FakeSubscription:
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise FakeSubscriptionNotFound(f"subscription {subscription_id!r}")
        self._advance(subscription)
        return subscription

    def _get_invoice(self, invoice_id: str) -> tuple[FakeSubscription, FakeInvoice]:
        for subscription in self._subscriptions.values():
            for invoice in subscription.invoices:
                if invoice.invoice_id == invoice_id:
                    return subscription, invoice
        raise FakeSubscriptionNotFound(f"invoice {invoice_id!r}")

    def _advance(self, subscription: FakeSubscription) -> bool:
        """Catch up with the clock: one invoice per period passed, or the end.

        A subscription whose renewal failed waits for the member (fix-payment) and is
        not billed again meanwhile; the shop's grace period decides what they keep.
        """
        now = self.context.now()
        changed = False
        while subscription.status != "ended" and now >= subscription.current_period_end:
            if subscription.cancel_at_period_end:
                self._end(subscription)
            elif subscription.status == "past_due":
                break
            else:
                self._renew(subscription)
            changed = True
        if changed:
            self._save()
        return changed

    def _renew(self, subscription: FakeSubscription) -> None:
        invoice = FakeInvoice(
            invoice_id=f"fin_{secrets.token_hex(12)}",
            amount=subscription.amount,
            period_start=subscription.current_period_end,
            period_end=add_intervals(
                subscription.anchor, subscription.interval, subscription.periods + 1
            ),
            status="paid",
        )
        subscription.invoices.append(invoice)
        if subscription.fail_next_renewal:
            subscription.fail_next_renewal = False
            invoice.status = "open"
            subscription.status = "past_due"
            subscription.notice = "The renewal payment failed. Update your payment details."
            self._emit_subscription(subscription, EventKind.INVOICE_FAILED, invoice.amount, invoice)
        else:
            self._pay_invoice(subscription, invoice)

    def _pay_invoice(self, subscription: FakeSubscription, invoice: FakeInvoice) -> None:
        invoice.status = "paid"
        subscription.periods += 1
        subscription.status = "active"
        subscription.notice = "Renewal paid."
        self._emit_subscription(subscription, EventKind.INVOICE_PAID, invoice.amount, invoice)

    def _end(self, subscription: FakeSubscription) -> None:
        subscription.status = "ended"
        subscription.ended_at = self.context.now()
        subscription.notice = "This subscription has ended."
        for invoice in subscription.invoices:
            if invoice.status == "open":
                invoice.status = "void"
        self._emit_subscription(subscription, EventKind.SUBSCRIPTION_ENDED, subscription.amount)

    def _act_subscription(self, subscription: FakeSubscription, action: str) -> None:
        if action not in SUBSCRIPTION_ACTIONS:
            raise IllegalAction(f"unknown action {action!r}")
        if subscription.status == "ended":
            raise IllegalAction(f"cannot {action} a subscription that has ended")
        if action in ("cancel", "resume"):
            cancel = action == "cancel"
            if subscription.cancel_at_period_end != cancel:
                subscription.cancel_at_period_end = cancel
                subscription.notice = (
                    "This subscription ends at the end of the period."
                    if cancel
                    else "This subscription renews again."
                )
                self._emit_subscription(
                    subscription, EventKind.SUBSCRIPTION_UPDATED, subscription.amount
                )
        elif action == "fail-next-renewal":
            subscription.fail_next_renewal = True
            subscription.notice = "The next renewal payment will fail."
        elif action == "fix-payment":
            subscription.fail_next_renewal = False
            subscription.notice = "Payment details updated."
            invoice = subscription.open_invoice()
            if invoice is not None:
                self._pay_invoice(subscription, invoice)
                self._advance(subscription)
        elif subscription.cancel_at_period_end:
            raise IllegalAction("cannot renew a subscription set to cancel at period end")
        elif subscription.status == "past_due":
            raise IllegalAction("cannot renew a subscription whose last renewal is unpaid")
        else:
            self._renew(subscription)
        self._save()

    def _act_invoice(
        self,
        subscription: FakeSubscription,
        invoice: FakeInvoice,
        action: str,
        amount: int | None,
    ) -> None:
        """Refund or lose a dispute over one invoice.

        The first invoice is the checkout's payment, so its refunds and disputes are the
        session's: one record of that money, whichever page the tester pressed.
        """
        if action not in INVOICE_ACTIONS:
            raise IllegalAction(f"unknown action {action!r}")
        if invoice.first:
            session = self._sessions[subscription.session_id]
            if action == "refund":
                self._act(session, "refund", amount)
            else:
                if session.dispute is None:
                    self._act(session, "dispute", None)
                self._act(session, "dispute-lost", None)
            return
        if invoice.status != "paid":
            raise IllegalAction(f"cannot {action} an invoice that is {invoice.status}")
        if invoice.dispute is not None:
            raise IllegalAction(f"cannot {action} an invoice with a dispute {invoice.dispute}")
        remaining = invoice.amount - invoice.refunded
        if action == "refund":
            amount = _refund_amount(amount, remaining)
            refund = FakeRefund(
                f"fr_{secrets.token_hex(8)}", amount, f"page-{secrets.token_hex(8)}"
            )
            invoice.refunds.append(refund)
            self._emit_subscription(
                subscription,
                EventKind.REFUND_SUCCEEDED,
                amount,
                invoice,
                subject_id=refund.refund_id,
            )
        else:
            dispute_id = f"fdp_{secrets.token_hex(8)}"
            invoice.dispute = "lost"
            for kind in (EventKind.DISPUTE_OPENED, EventKind.DISPUTE_LOST):
                self._emit_subscription(
                    subscription, kind, remaining, invoice, subject_id=dispute_id
                )
        self._save()

    # -- webhooks ------------------------------------------------------------------

    def _emit(
        self,
        session: FakeSession,
        kind: EventKind,
        amount: int,
        *,
        subject_id: str | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "session_id": session.session_id,
            "order_id": session.order_id,
            "amount": amount,
            "currency": session.currency,
            "subject_id": subject_id,
            "instance_id": session.instance_id,
        }
        subscription = self._subscriptions.get(session.subscription_id or "")
        if subscription is not None:
            data.update(_invoice_fields(subscription, subscription.invoices[0]))
        self._send(kind, data)

    def _emit_subscription(
        self,
        subscription: FakeSubscription,
        kind: EventKind,
        amount: int,
        invoice: FakeInvoice | None = None,
        *,
        subject_id: str | None = None,
    ) -> None:
        """An event about a subscription or one of its invoices.

        Only the first invoice names the checkout's session and order: a renewal is not
        the order, and a shop must not apply a renewal's refund to it.
        """
        first = invoice is not None and invoice.first
        data: dict[str, Any] = {
            "session_id": subscription.session_id if first else None,
            "order_id": subscription.order_id if first else None,
            "amount": amount,
            "currency": subscription.currency,
            "subject_id": subject_id,
            "instance_id": subscription.instance_id,
            **_invoice_fields(subscription, invoice),
        }
        self._send(kind, data)

    def _send(self, kind: EventKind, data: dict[str, Any]) -> None:
        """Wrap ``data`` as a webhook and queue it through the fault plan."""
        payload: dict[str, Any] = {
            "id": f"evt_{secrets.token_hex(12)}",
            "type": kind.value,
            "created": int(self.context.now().timestamp()),
            "data": data,
        }
        plan = self.faults
        if not plan.applies_to(kind):
            plan = FaultPlan()
        data["amount"] += plan.amount_delta
        if plan.currency is not None:
            data["currency"] = plan.currency
        if plan.order_id is not None:
            data["order_id"] = plan.order_id
        copies: list[_Outgoing] = []
        if plan.drop:
            self.deliveries.append(Delivery(payload["id"], kind.value, "dropped"))
        else:
            outgoing = _Outgoing(self._next_seq(), payload, plan.bad_signature, plan.delay_seconds)
            copies.append(outgoing)
            if plan.duplicate:
                copies.append(replace(outgoing, seq=self._next_seq()))
        if self._held is not None:
            held, self._held = self._held, None
            copies.append(held)
        elif plan.reorder and copies:
            self._held = copies[0]
        for copy in copies:
            self._enqueue(copy, send=copy is not self._held)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _enqueue(self, outgoing: _Outgoing, *, send: bool = True) -> None:
        """Record the webhook in the outbox (persisted) and, unless held, queue it."""
        self._outbox[outgoing.seq] = outgoing
        self._save()
        if send and self._queue is not None:
            self._queue.put_nowait(outgoing)

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        while True:
            outgoing = await self._queue.get()
            try:
                await self._deliver(outgoing)
            finally:
                self._queue.task_done()

    async def _deliver(self, outgoing: _Outgoing) -> None:
        """Send one webhook, retrying with exponential backoff like a real gateway.

        Deliveries go one at a time in the order events happened (unless a fault says
        otherwise), which keeps test runs deterministic.
        """
        assert self._http is not None
        record = Delivery(outgoing.payload["id"], outgoing.payload["type"])
        self.deliveries.append(record)
        if outgoing.delay_seconds:
            await asyncio.sleep(outgoing.delay_seconds)
        url = self.context.webhook_url(self.name)
        for attempt in range(self.options.max_delivery_attempts):
            if attempt:
                await asyncio.sleep(self.options.retry_backoff_seconds * 2 ** (attempt - 1))
            body, headers = self.render_webhook(
                outgoing.payload, bad_signature=outgoing.bad_signature
            )
            status: int | None = None
            try:
                async with self._http.post(url, data=body, headers=headers) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                self.context.logger.info("fake gateway webhook to %s failed: %r", url, error)
            record.responses.append(status)
            if status is not None and 200 <= status < 300:
                record.status = "delivered"
                break
        else:
            record.status = "failed"
            self.context.logger.warning(
                "fake gateway gave up on webhook %s after %d attempts",
                record.event_id,
                record.attempts,
            )
        self._outbox.pop(outgoing.seq, None)
        self._save()

    # -- persistence ---------------------------------------------------------------

    def _load(self) -> None:
        path = self.options.state_path
        if path is None or not path.exists():
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        self._sessions = {
            s["session_id"]: FakeSession.from_json(s) for s in data.get("sessions", [])
        }
        self._by_key = {s.idempotency_key: s.session_id for s in self._sessions.values()}
        self._subscriptions = {
            s["subscription_id"]: FakeSubscription.from_json(s)
            for s in data.get("subscriptions", [])
        }
        self._outbox = {o["seq"]: _Outgoing(**o) for o in data.get("outbox", [])}
        self._seq = max([self._seq, *self._outbox], default=0)

    def _save(self) -> None:
        """Write the whole state atomically; it is small, and a developer's crash test
        must find either the old or the new file, never half of one."""
        path = self.options.state_path
        if path is None:
            return
        data = {
            "sessions": [s.to_json() for s in self._sessions.values()],
            "subscriptions": [s.to_json() for s in self._subscriptions.values()],
            "outbox": [asdict(o) for o in self._outbox.values()],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)

    # -- HTTP handlers -------------------------------------------------------------

    async def _page_handler(self, request: web.Request) -> web.Response:
        try:
            session = self._get(request.match_info["session_id"])
        except FakeSessionNotFound:
            raise web.HTTPNotFound(text="No such checkout session.") from None
        page = CheckoutPage(
            shop_name=self.context.shop_name,
            session_id=session.session_id,
            status=session.status,
            lines=session.lines,
            total=session.total,
            currency=session.currency,
            refunded=session.refunded,
            dispute=session.dispute,
            notice=session.notice,
            actions=self._available_actions(session),
        )
        return web.Response(text=render_checkout_page(page), content_type="text/html")

    @staticmethod
    def _available_actions(session: FakeSession) -> list[str]:
        if session.status == "open":
            return ["pay", "decline", "pay-later", "cancel", "expire"]
        if session.status == "pending":
            return ["pay", "decline"]
        if session.status != "paid":
            return []
        actions = []
        if session.dispute is None:
            actions += ["refund", "dispute"] if session.refunded < session.total else ["dispute"]
        elif session.dispute == "open":
            actions += ["dispute-won", "dispute-lost"]
        return actions

    async def _state_handler(self, request: web.Request) -> web.Response:
        return _state(lambda: self.session(request.match_info["session_id"]))

    async def _action_handler(self, request: web.Request) -> web.StreamResponse:
        session_id = request.match_info["session_id"]
        action = request.match_info["action"]

        async def run() -> dict[str, Any]:
            amount = await _read_amount(request)
            _check_action(action, ACTIONS)
            return await self.perform(session_id, action, amount)

        def redirect(public: dict[str, Any]) -> str:
            session = self._sessions[session_id]
            if action in ("pay", "pay-later") and session.status in ("paid", "pending"):
                return str(URL(session.success_url).extend_query(session_id=session.session_id))
            if action == "cancel":
                return session.cancel_url
            return f"/fake-gateway/checkout/{session.session_id}"

        return await _respond(request, run, redirect)

    async def _faults_get_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.model_dump(mode="json"))

    async def _faults_post_handler(self, request: web.Request) -> web.Response:
        try:
            self.faults = FaultPlan.model_validate(await request.json())
        except (ValidationError, json.JSONDecodeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(self.faults.model_dump(mode="json"))

    async def _manage_handler(self, request: web.Request) -> web.Response:
        try:
            subscription = self._get_subscription(request.match_info["subscription_id"])
        except FakeSubscriptionNotFound:
            raise web.HTTPNotFound(text="No such subscription.") from None
        page = ManagePage(
            shop_name=self.context.shop_name,
            subscription_id=subscription.subscription_id,
            status=subscription.status,
            amount=subscription.amount,
            currency=subscription.currency,
            interval=subscription.interval,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            notice=subscription.notice,
            return_url=subscription.return_url,
            actions=self._subscription_actions(subscription),
            invoices=[
                self._invoice_row(subscription, invoice) for invoice in subscription.invoices
            ],
        )
        return web.Response(text=render_manage_page(page), content_type="text/html")

    @staticmethod
    def _subscription_actions(subscription: FakeSubscription) -> list[str]:
        if subscription.status == "ended":
            return []
        actions = ["fix-payment", "resume" if subscription.cancel_at_period_end else "cancel"]
        if not subscription.cancel_at_period_end and subscription.status == "active":
            actions.append("renew")
        if not subscription.fail_next_renewal:
            actions.append("fail-next-renewal")
        return actions

    def _invoice_row(self, subscription: FakeSubscription, invoice: FakeInvoice) -> InvoiceRow:
        """An invoice as its page shows it. Its refunds and dispute are its own, except
        the first one's, which are the session's (see ``_act_invoice``)."""
        record = self._sessions[subscription.session_id] if invoice.first else invoice
        return InvoiceRow(
            invoice_id=invoice.invoice_id,
            amount=invoice.amount,
            period_end=invoice.period_end,
            status=invoice.status,
            refunded=record.refunded,
            dispute=record.dispute,
        )

    async def _advance_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.advance_subscriptions())

    async def _subscription_state_handler(self, request: web.Request) -> web.Response:
        return _state(lambda: self.subscription(request.match_info["subscription_id"]))

    async def _subscription_action_handler(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]

        async def run() -> dict[str, Any]:
            _check_action(action, SUBSCRIPTION_ACTIONS)
            return await self.perform_subscription(request.match_info["subscription_id"], action)

        return await _respond(request, run, _manage_location)

    async def _invoice_action_handler(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]

        async def run() -> dict[str, Any]:
            amount = await _read_amount(request)
            _check_action(action, INVOICE_ACTIONS)
            return await self.perform_invoice(request.match_info["invoice_id"], action, amount)

        return await _respond(request, run, _manage_location)


def _invoice_fields(subscription: FakeSubscription, invoice: FakeInvoice | None) -> dict[str, Any]:
    """The subscription part of a webhook's data; see ``GatewayEvent`` for the meaning."""
    period_end = subscription.current_period_end if invoice is None else invoice.period_end
    return {
        "subscription_id": subscription.subscription_id,
        "invoice_id": None if invoice is None else invoice.invoice_id,
        "period_end": period_end.isoformat(),
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "first_invoice": invoice is not None and invoice.first,
    }


def _refund_amount(amount: int | None, remaining: int) -> int:
    """What a refund takes: ``amount``, or all that is left when None; a session's and
    an invoice's refunds are bounded alike."""
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise IllegalAction(f"refund amount must be between 1 and {remaining}")
    return amount


def _optional(data: Mapping[str, Any], key: str, kind: type) -> Any:
    """``data[key]`` when it is None, absent or of ``kind``; TypeError otherwise."""
    value = data.get(key)
    if value is not None and type(value) is not kind:
        raise TypeError
    return value


def _state(lookup: Callable[[], dict[str, Any]]) -> web.Response:
    """A session or subscription as JSON, or a 404 naming what is missing."""
    try:
        return web.json_response(lookup())
    except (FakeSessionNotFound, FakeSubscriptionNotFound) as error:
        return web.json_response({"error": str(error)}, status=404)


def _check_action(action: str, known: tuple[str, ...]) -> None:
    if action not in known:
        raise web.HTTPNotFound(text=f"unknown action {action!r}")


def _manage_location(public: dict[str, Any]) -> str:
    return f"/fake-gateway/manage/{public['subscription_id']}"


async def _respond(
    request: web.Request,
    run: Callable[[], Awaitable[dict[str, Any]]],
    redirect: Callable[[dict[str, Any]], str],
) -> web.StreamResponse:
    """Press a button for a script (JSON back) or a browser (303 to the next page).

    Shared by every action route so all map failures alike: missing 404, not allowed
    in this state 409, bad amount 400.
    """
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        public = await run()
    except (FakeSessionNotFound, FakeSubscriptionNotFound) as error:
        return _error(wants_json, 404, str(error))
    except IllegalAction as error:
        return _error(wants_json, 409, str(error))
    except ValueError as error:
        return _error(wants_json, 400, str(error))
    if wants_json:
        return web.json_response(public)
    raise web.HTTPSeeOther(location=redirect(public))


def _error(wants_json: bool, status: int, message: str) -> web.Response:
    if wants_json:
        return web.json_response({"error": message}, status=status)
    return web.Response(text=message, status=status)


async def _read_amount(request: web.Request) -> int | None:
    """The optional partial-refund amount, from a form field or a JSON body."""
    raw: Any = None
    if request.content_type == "application/json" and request.body_exists:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise ValueError("body is not JSON") from None
        raw = body.get("amount") if isinstance(body, dict) else None
    elif request.body_exists:
        raw = (await request.post()).get("amount")
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("amount must be a whole number of minor units")
    try:
        return int(raw)
    except ValueError:
        raise ValueError("amount must be a whole number of minor units") from None


def parse_fake_event(payload: Any) -> list[GatewayEvent]:
    """Translate a verified fake webhook body; unknown types are ignored."""
    try:
        event_type = payload["type"]
        if event_type not in _EVENT_TYPES:
            return []
        data = payload["data"]
        amount = data["amount"]
        currency = data["currency"]
        order_id = data["order_id"]
        instance_id = _optional(data, "instance_id", str)
        # Renewals belong to a subscription, not to a checkout: no session id.
        session_id = _optional(data, "session_id", str)
        if not isinstance(payload["id"], str):
            raise TypeError
        period_end = _optional(data, "period_end", str)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError
        if order_id is not None and not isinstance(order_id, str):
            raise TypeError
        return [
            GatewayEvent(
                gateway=FakeGateway.name,
                event_id=payload["id"],
                kind=EventKind(event_type),
                session_id=session_id,
                order_id=order_id,
                amount=amount,
                currency=check_currency(currency),
                occurred_at=datetime.fromtimestamp(int(payload["created"]), tz=UTC),
                raw_type=event_type,
                subject_id=data.get("subject_id"),
                instance_id=instance_id,
                subscription_id=_optional(data, "subscription_id", str),
                invoice_id=_optional(data, "invoice_id", str),
                period_end=None
                if period_end is None
                else check_utc(datetime.fromisoformat(period_end), "period_end"),
                cancel_at_period_end=_optional(data, "cancel_at_period_end", bool),
                first_invoice=_optional(data, "first_invoice", bool) or False,
            )
        ]
    except (KeyError, TypeError, ValueError, OverflowError):
        raise WebhookVerificationError("malformed fake gateway event") from None
