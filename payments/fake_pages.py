"""HTML for the fake gateway's hosted checkout page.

Plain forms and real buttons, so it works without JavaScript and with a screen reader;
every value is escaped because line names come from the shop's catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from babel.numbers import format_currency, get_currency_precision


def format_money(amount: int, currency: str, locale: str = "en_US") -> str:
    """Minor units to a display string without ever going through a float."""
    precision = get_currency_precision(currency)
    return format_currency(Decimal(amount).scaleb(-precision), currency, locale=locale)


@dataclass(frozen=True, slots=True)
class PageLine:
    name: str
    quantity: int
    unit_amount: int


@dataclass(frozen=True, slots=True)
class CheckoutPage:
    shop_name: str
    session_id: str
    status: str
    lines: Sequence[PageLine]
    total: int
    currency: str
    refunded: int
    dispute: str | None
    notice: str
    actions: Sequence[str]


_BUTTONS = {
    "pay": "Pay",
    "decline": "Decline",
    "pay-later": "Pay later",
    "cancel": "Cancel",
    "expire": "Expire now",
    "refund": "Refund",
    "dispute": "Open a dispute",
    "dispute-won": "Dispute won",
    "dispute-lost": "Dispute lost",
}

_STATUS_TEXT = {
    "open": "Awaiting payment",
    "pending": "Payment processing",
    "paid": "Paid",
    "failed": "Payment failed",
    "expired": "Expired",
}

_CUSTOMER_ACTIONS = ("pay", "decline", "pay-later", "cancel")


def _form(session_id: str, action: str) -> str:
    target = escape(f"/fake-gateway/sessions/{session_id}/{action}")
    extra = ""
    if action == "refund":
        extra = (
            '<label for="refund-amount">Amount in minor units (empty: all)</label> '
            '<input id="refund-amount" name="amount" type="number" min="1" step="1"> '
        )
    return (
        f'<form method="post" action="{target}">{extra}'
        f'<button type="submit">{escape(_BUTTONS[action])}</button></form>'
    )


def render_checkout_page(page: CheckoutPage) -> str:
    money = page.currency
    rows = "".join(
        "<tr>"
        f'<th scope="row">{escape(line.name)}</th>'
        f"<td>{line.quantity}</td>"
        f"<td>{escape(format_money(line.unit_amount, money))}</td>"
        f"<td>{escape(format_money(line.unit_amount * line.quantity, money))}</td>"
        "</tr>"
        for line in page.lines
    )
    customer = [a for a in page.actions if a in _CUSTOMER_ACTIONS]
    operator = [a for a in page.actions if a not in _CUSTOMER_ACTIONS]
    notice = f'<p role="status">{escape(page.notice)}</p>' if page.notice else ""
    refunded = (
        f"<p>Refunded: {escape(format_money(page.refunded, money))}</p>" if page.refunded else ""
    )
    dispute = f"<p>Dispute: {escape(page.dispute)}</p>" if page.dispute else ""
    customer_html = (
        '<section aria-labelledby="pay-heading"><h2 id="pay-heading">Payment</h2>'
        + "".join(_form(page.session_id, a) for a in customer)
        + "</section>"
        if customer
        else ""
    )
    operator_html = (
        '<section aria-labelledby="ops-heading"><h2 id="ops-heading">Test controls</h2>'
        + "".join(_form(page.session_id, a) for a in operator)
        + "</section>"
        if operator
        else ""
    )
    status = _STATUS_TEXT.get(page.status, page.status)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout: {escape(page.shop_name)}</title>
</head>
<body>
<main>
<h1>{escape(page.shop_name)}</h1>
<p>Test payment page. No real money is taken.</p>
<p>Status: <strong>{escape(status)}</strong></p>
{notice}
<table>
<caption>Your order</caption>
<thead><tr><th scope="col">Item</th><th scope="col">Quantity</th>
<th scope="col">Unit price</th><th scope="col">Amount</th></tr></thead>
<tbody>{rows}</tbody>
<tfoot><tr><th scope="row" colspan="3">Total</th>
<td>{escape(format_money(page.total, money))}</td></tr></tfoot>
</table>
{refunded}{dispute}
{customer_html}
{operator_html}
</main>
</body>
</html>
"""
