"""The interface every payment gateway plugin implements.

A gateway only translates: checkout requests into hosted sessions, webhooks into
normalized events, state queries into ``SessionState``. It never decides what an event
means for an order; the store does that, once, in its own transaction.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from payments.errors import GatewayError
from payments.models import (
    CheckoutRequest,
    CheckoutSession,
    GatewayEvent,
    RefundResult,
    SessionState,
    check_utc,
)

Environment = Literal["development", "production"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _default_logger() -> logging.Logger:
    return logging.getLogger("payments")


CreateCheckout = Callable[["Gateway", CheckoutRequest], Awaitable[CheckoutSession]]


def _checking_capabilities(create: CreateCheckout) -> CreateCheckout:
    """``create`` preceded by ``Gateway.check_supported``; see ``Gateway.__init_subclass__``."""

    @functools.wraps(create)
    async def create_checkout(self: Gateway, request: CheckoutRequest) -> CheckoutSession:
        self.check_supported(request)
        return await create(self, request)

    setattr(create_checkout, "_checks_capabilities", True)  # noqa: B010
    return create_checkout


@dataclass(frozen=True)
class GatewayContext:
    """What a gateway needs to know about the shop it serves.

    ``public_url`` is where the shop's web app is reachable from outside; webhooks are
    expected at ``{public_url}/webhooks/{gateway name}``. ``clock`` is injectable so
    expiry and signature windows can be tested without sleeping.
    """

    shop_name: str
    public_url: str
    environment: Environment = "development"
    clock: Callable[[], datetime] = utc_now
    logger: logging.Logger = field(default_factory=_default_logger)

    def now(self) -> datetime:
        return check_utc(self.clock(), "clock()")

    def url(self, path: str) -> str:
        return f"{self.public_url.rstrip('/')}/{path.lstrip('/')}"

    def webhook_url(self, gateway_name: str) -> str:
        return self.url(f"webhooks/{gateway_name}")


class GatewayOptions(BaseModel):
    """Base of every gateway's config sub-table: immutable, and typos are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Gateway(ABC):
    """A payment gateway plugin.

    Subclasses set ``name`` and ``Options`` and take ``(options, context)`` in their
    constructor; ``payments.registry.load_gateway`` validates the config table with
    ``Options`` before constructing. Constructors must not do I/O: network clients are
    opened in ``start()`` and released in ``close()``.
    """

    name: ClassVar[str]
    Options: ClassVar[type[GatewayOptions]]
    #: False for a gateway that only simulates payments (the fake): the shop then tells
    #: members their payment is a test, and refuses to run it with real members unless
    #: the operator opts in, and in production at all.
    takes_real_money: ClassVar[bool] = True
    #: What members see on the button that picks this gateway when a shop offers
    #: several ("Card", "PayPal"); empty means the name, capitalised.
    display_name: ClassVar[str] = ""
    #: Whether the gateway can take recurring payments (``CheckoutLine.interval``) and
    #: implements the subscription methods below. The shop offers subscriptions only
    #: through gateways that say so, and the contract suite checks them only there.
    supports_subscriptions: ClassVar[bool] = False

    def __init__(self, options: GatewayOptions, context: GatewayContext) -> None:
        self.context = context

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Every plugin's ``create_checkout`` first refuses what the plugin cannot take.

        Done here, once, rather than trusted to each plugin: a gateway that forgot the
        check would otherwise charge a subscription's first period once and never again.
        """
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("create_checkout")
        if own is not None and not getattr(own, "_checks_capabilities", False):
            setattr(cls, "create_checkout", _checking_capabilities(own))  # noqa: B010

    def check_supported(self, request: CheckoutRequest) -> None:
        """Raise a permanent ``GatewayError`` for a request this gateway cannot take."""
        if request.is_subscription and not self.supports_subscriptions:
            raise self._no_subscriptions(
                f", and checkout {request.order_id!r} has a recurring line",
                member_message="This payment method cannot take subscriptions. "
                "Please choose another one, or buy the time once instead.",
            )

    @abstractmethod
    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Open a hosted checkout; the same idempotency key must give the same session."""

    @abstractmethod
    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> list[GatewayEvent]:
        """Verify the signature over the raw body, then translate the payload.

        Raises ``WebhookVerificationError`` for anything untrustworthy; returns an empty
        list for well-signed events of types the shop does not act on.
        """

    @abstractmethod
    async def fetch_session(self, session_id: str) -> SessionState:
        """The gateway's current, authoritative state of a session."""

    @abstractmethod
    async def refund(
        self, session_id: str, amount: int | None, idempotency_key: str
    ) -> RefundResult:
        """Refund ``amount`` minor units (all that is left when None) of a paid session."""

    @abstractmethod
    async def expire_session(self, session_id: str) -> None:
        """Kill an open session's link. A no-op when already expired.

        Raises a permanent ``GatewayError`` when the session completed: paid wins.
        """

    def _no_subscriptions(
        self, detail: str = "", *, member_message: str | None = None
    ) -> GatewayError:
        """The permanent refusal of a gateway without subscriptions; ``detail`` says which."""
        return GatewayError(
            f"gateway {self.name!r} does not support subscriptions{detail}",
            transient=False,
            member_message=member_message,
        )

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool = True
    ) -> None:
        """End a subscription; at period end by default, keeping the time already paid.

        At period end the gateway reports SUBSCRIPTION_UPDATED now and SUBSCRIPTION_ENDED
        when the period is over; otherwise SUBSCRIPTION_ENDED now. Cancelling what is
        already set to cancel changes nothing.
        """
        raise self._no_subscriptions()

    async def resume_subscription(self, subscription_id: str) -> None:
        """Undo a cancellation at period end before the period is over."""
        raise self._no_subscriptions()

    async def manage_url(self, subscription_id: str, return_url: str) -> str:
        """Where the member fixes their payment details; its way back leads to ``return_url``."""
        raise self._no_subscriptions()

    @classmethod
    def label(cls) -> str:
        """The display name, or the plugin's name when it sets none."""
        return cls.display_name or cls.name.replace("_", " ").replace("-", " ").capitalize()

    async def resolve_event(self, event: GatewayEvent) -> GatewayEvent:
        """Fill in a session and order id the webhook itself did not carry.

        Some gateways report refunds and disputes without our ids; this asks the gateway.
        The default has nothing to ask and returns the event unchanged.
        """
        return event

    def add_routes(self, app: web.Application) -> None:
        """Mount pages the gateway serves from the shop's own web app; most have none."""
        return None

    async def start(self) -> None:
        """Open network clients and resume background work."""
        return None

    async def close(self) -> None:
        """Stop background work and release network clients."""
        return None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
