"""The interface every payment gateway plugin implements.

A gateway only translates: checkout requests into hosted sessions, webhooks into
normalized events, state queries into ``SessionState``. It never decides what an event
means for an order; the store does that, once, in its own transaction.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict

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

    def __init__(self, options: GatewayOptions, context: GatewayContext) -> None:
        self.context = context

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
