"""Money is integer minor units plus a currency, formatted by babel."""

from __future__ import annotations

import pytest

from store.money import CurrencyMismatch, Money, normalize_currency


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(300, "USD"), "en_US", "$3.00"),
        (Money(300, "EUR"), "de_DE", "3,00\xa0€"),
        (Money(300, "JPY"), "ja_JP", "￥300"),
        (Money(300, "JPY"), "en_US", "¥300"),
    ],
)
def test_formats_each_currency_its_own_way(money: Money, locale: str, text: str) -> None:
    """Symbols, decimals and placement come from the currency and locale."""
    assert money.format(locale) == text


def test_adding_two_currencies_is_refused() -> None:
    """Dollars and euros never silently sum."""
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "USD") + Money(100, "EUR")


def test_floats_are_refused() -> None:
    """An amount must be whole minor units."""
    with pytest.raises(TypeError):
        Money(19.99, "USD")  # type: ignore[arg-type]


def test_currency_codes_are_normalised_and_checked() -> None:
    """'usd' is USD; a made-up code is refused."""
    assert normalize_currency("usd") == "USD"
    with pytest.raises(ValueError, match="ISO 4217"):
        normalize_currency("XYZQ")
