"""Money as integer minor units plus an ISO 4217 currency.

Floats never touch an amount: `int(19.99 * 100) == 1998`. Formatting goes through
babel so each currency gets its own symbol, decimals and placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, is_currency


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def currency_digits(currency: str) -> int:
    """How many minor-unit digits a currency has (2 for USD, 0 for JPY)."""
    return int(get_currency_precision(currency))


def normalize_currency(code: str) -> str:
    """Upper-case and check an ISO 4217 code, so 'usd' and 'USD' are one currency."""
    upper = code.strip().upper()
    if len(upper) != 3 or not is_currency(upper):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return upper


def normalize_locale(value: str) -> str:
    """A locale babel knows, written its way ('de-DE' and 'de_DE' are one locale)."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a locale babel knows, e.g. en_US or de_DE") from exc


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def format(self, locale: str = "en_US") -> str:
        """Render for people, e.g. '$3.00', '3,00 €' or '¥300'."""
        return _format(self.amount, self.currency, locale)

    def __str__(self) -> str:
        """en_US, for logs and exception text: what members see goes through
        `format` with the shop's configured locale (the bot's renderers do that)."""
        return self.format()


@lru_cache(maxsize=4096)
def _format(amount: int, currency: str, locale: str) -> str:
    """babel costs ~50 µs a call and every reply shows a dozen prices: remember them."""
    digits = currency_digits(currency)
    value = Decimal(amount).scaleb(-digits)
    return str(format_currency(value, currency, locale=locale))
