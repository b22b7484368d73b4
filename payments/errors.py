"""Errors a gateway raises, phrased so callers can decide what to do and what to log."""

from __future__ import annotations

from collections.abc import Iterable


class PaymentsError(Exception):
    """Lets callers catch every payments failure without listing them."""


class WebhookVerificationError(PaymentsError):
    """A webhook we must not trust; answer 400 and store nothing.

    The message is safe to log: it never contains a secret, a signature or the body.
    """


class GatewayError(PaymentsError):
    """A gateway call failed.

    ``transient`` tells the caller whether trying again later (with the same idempotency
    key) can succeed; ``member_message`` is what a member may be shown, while the
    exception text is for the operator's log.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        member_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.member_message = member_message or (
            "The payment provider is not reachable right now. Please try again in a minute."
            if transient
            else "The payment provider refused this request. Please contact the shop staff."
        )


class GatewayNotInstalled(PaymentsError):
    """The configured gateway has no installed plugin; startup must stop."""

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        self.name = name
        self.installed = tuple(sorted(installed))
        listed = ", ".join(self.installed) if self.installed else "none"
        super().__init__(
            f"payment gateway {name!r} is not installed (installed gateways: {listed})"
        )


class GatewayConfigError(PaymentsError):
    """The gateway's configuration is unusable; the message names the offending keys."""
