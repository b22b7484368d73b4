"""HTML for the fake gateway's hosted checkout page.

Plain forms and real buttons, so it works without JavaScript and with a screen reader;
every value is escaped because line names come from the shop's catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    #: "month" or "year" for a line charged again every interval; None for once.
    interval: str | None = None


def every(interval: str | None) -> str:
    """ " every month" for a recurring amount, so nobody subscribes without seeing it."""
    return f" every {interval}" if interval else ""


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


def _post_form(target: str, label: str, extra: str = "") -> str:
    """One button posting to ``target``; ``extra`` is markup placed before it, unescaped."""
    return (
        f'<form method="post" action="{escape(target)}">{extra}'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def _refund_field(field_id: str) -> str:
    """The optional partial-refund amount; labelled so a screen reader names it."""
    return (
        f'<label for="{escape(field_id)}">Amount in minor units (empty: all)</label> '
        f'<input id="{escape(field_id)}" name="amount" type="number" min="1" step="1"> '
    )


def _section(heading_id: str, heading: str, forms: Sequence[str]) -> str:
    """A labelled group of buttons; nothing at all when there is no button to show."""
    if not forms:
        return ""
    return (
        f'<section aria-labelledby="{heading_id}"><h2 id="{heading_id}">{heading}</h2>'
        + "".join(forms)
        + "</section>"
    )


def _document(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def _form(session_id: str, action: str) -> str:
    extra = _refund_field("refund-amount") if action == "refund" else ""
    return _post_form(f"/fake-gateway/sessions/{session_id}/{action}", _BUTTONS[action], extra)


def render_checkout_page(page: CheckoutPage) -> str:
    money = page.currency
    rows = "".join(
        "<tr>"
        f'<th scope="row">{escape(line.name)}</th>'
        f"<td>{line.quantity}</td>"
        f"<td>{escape(format_money(line.unit_amount, money) + every(line.interval))}</td>"
        f"<td>{escape(format_money(line.unit_amount * line.quantity, money))}"
        f"{escape(every(line.interval))}</td>"
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
    customer_html = _section(
        "pay-heading", "Payment", [_form(page.session_id, a) for a in customer]
    )
    operator_html = _section(
        "ops-heading", "Test controls", [_form(page.session_id, a) for a in operator]
    )
    status = _STATUS_TEXT.get(page.status, page.status)
    body = f"""<h1>{escape(page.shop_name)}</h1>
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
{operator_html}"""
    return _document(f"Checkout: {page.shop_name}", body)


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    invoice_id: str
    amount: int
    period_end: datetime
    status: str
    refunded: int
    dispute: str | None


@dataclass(frozen=True, slots=True)
class ManagePage:
    shop_name: str
    subscription_id: str
    status: str
    amount: int
    currency: str
    interval: str
    current_period_end: datetime
    cancel_at_period_end: bool
    notice: str
    return_url: str | None
    actions: Sequence[str]
    invoices: Sequence[InvoiceRow]


_SUBSCRIPTION_BUTTONS = {
    "fix-payment": "Update payment details",
    "cancel": "Cancel at the end of the period",
    "resume": "Keep my subscription",
    "renew": "Renew now",
    "fail-next-renewal": "Fail the next renewal",
}
_MEMBER_SUBSCRIPTION_ACTIONS = ("fix-payment", "cancel", "resume")


def _subscription_form(subscription_id: str, action: str) -> str:
    return _post_form(
        f"/fake-gateway/subscriptions/{subscription_id}/{action}", _SUBSCRIPTION_BUTTONS[action]
    )


def _invoice_forms(row: InvoiceRow) -> str:
    if row.status != "paid" or row.dispute is not None:
        return ""
    base = f"/fake-gateway/invoices/{row.invoice_id}"
    refund = (
        _post_form(f"{base}/refund", "Refund", _refund_field(f"amount-{row.invoice_id}"))
        if row.refunded < row.amount
        else ""
    )
    return refund + _post_form(f"{base}/dispute-lost", "Dispute (lost)")


def _day(value: datetime) -> str:
    return value.strftime("%d %B %Y, %H:%M UTC")


def render_manage_page(page: ManagePage) -> str:
    """The fake's stand-in for a billing portal: what the member pays, and buttons."""
    price = format_money(page.amount, page.currency) + every(page.interval)
    if page.status == "ended":
        state = "Ended"
    elif page.status == "past_due":
        state = "Renewal payment failed: update your payment details to keep it"
    elif page.cancel_at_period_end:
        state = f"Ends on {_day(page.current_period_end)}"
    else:
        state = f"Renews on {_day(page.current_period_end)}"
    notice = f'<p role="status">{escape(page.notice)}</p>' if page.notice else ""
    member = [a for a in page.actions if a in _MEMBER_SUBSCRIPTION_ACTIONS]
    tester = [a for a in page.actions if a not in _MEMBER_SUBSCRIPTION_ACTIONS]
    back = (
        f'<p><a href="{escape(page.return_url)}">Back to {escape(page.shop_name)}</a></p>'
        if page.return_url
        else ""
    )
    rows = "".join(
        "<tr>"
        f'<th scope="row">{escape(row.invoice_id)}</th>'
        f"<td>{escape(format_money(row.amount, page.currency))}</td>"
        f"<td>{escape(_day(row.period_end))}</td>"
        f"<td>{escape(row.status)}"
        + (
            f", refunded {escape(format_money(row.refunded, page.currency))}"
            if row.refunded
            else ""
        )
        + (f", dispute {escape(row.dispute)}" if row.dispute else "")
        + f"</td><td>{_invoice_forms(row)}</td></tr>"
        for row in page.invoices
    )
    member_html = _section(
        "manage-heading", "Manage", [_subscription_form(page.subscription_id, a) for a in member]
    )
    tester_html = _section(
        "ops-heading",
        "Test controls",
        [_subscription_form(page.subscription_id, a) for a in tester],
    )
    body = f"""<h1>{escape(page.shop_name)}</h1>
<p>Test subscription page. No real money is taken.</p>
<p>Subscription: <strong>{escape(price)}</strong></p>
<p>Status: <strong>{escape(state)}</strong></p>
{notice}
{member_html}
<table>
<caption>Invoices</caption>
<thead><tr><th scope="col">Invoice</th><th scope="col">Amount</th>
<th scope="col">Period ends</th><th scope="col">Status</th>
<th scope="col">Test controls</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{tester_html}
{back}"""
    return _document(f"Subscription: {page.shop_name}", body)
