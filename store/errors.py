"""Refusals the store raises; each carries a message fit to show a member."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class StoreError(Exception):
    """Base of every refusal: the operation changed nothing."""

    code = "store_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(StoreError):
    """A member or moderator asked for something the rules don't allow."""

    code = "invalid_input"


class NotFound(StoreError):
    """The thing named does not exist, or is not the caller's to see."""

    code = "not_found"


class CartFull(InvalidInput):
    code = "cart_full"


class EmptyCart(InvalidInput):
    code = "empty_cart"


class InsufficientPoints(InvalidInput):
    code = "insufficient_points"


class IllegalTransition(StoreError):
    """An order state change that the state machine forbids."""

    code = "illegal_transition"


class LimitExceeded(InvalidInput):
    """A moderator action above the configured maximum."""

    code = "limit_exceeded"


class ConfigError(ValueError):
    """Configuration that cannot be used; the message names the key."""


def validation_parts(error: ValidationError) -> list[str]:
    """Each of pydantic's refusals as "field: message", without pydantic's "Value
    error, " prefix or the input values, for a person to act on."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return parts
