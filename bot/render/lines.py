"""What cart lines and order lines say alike — who a gift is for, and its note — and an
order's lines in pages, as the checkout summary and the account page both show them.

Written once so a gift reads the same in the cart, after an add, at checkout and in
/account, and an order packs into the same pages wherever it is shown.
"""

from __future__ import annotations

from bot.render.pages import Line, paginate
from bot.render.text import safe
from store.orders import Order, OrderLine


def discount_text(order: Order, *, locale: str) -> str | None:
    """ "−$1.20 (code SAVE20)" for an order a coupon took something off; else None."""
    if not order.discounted or order.discount is None:
        return None
    return f"−{order.discount.format(locale)} (code {order.coupon_code})"


#: Characters of a gift note a cart or order line shows (the whole note goes with the gift).
NOTE_PREVIEW = 300


def gift_details(recipient_id: int, anonymous: bool, note: str | None = None) -> list[str]:
    """ "Gift for <@id>", "(anonymous)" when the giver hides, then the note's start."""
    details = [f"Gift for <@{recipient_id}>{' (anonymous)' if anonymous else ''}"]
    if note:
        details.append(f"Note: {safe(note, NOTE_PREVIEW)}")
    return details


def order_line(order: Order, line: OrderLine, *, locale: str) -> Line:
    """One order line: name × quantity, its price, and the gift when it is one."""
    details = [line.total.format(locale)]
    if line.recipient_id != order.buyer_id:
        details += gift_details(line.recipient_id, line.anonymous, line.note)
    return Line(f"{line.name} × {line.quantity}", "\n".join(details))


def order_pages(order: Order, *, locale: str) -> list[list[Line]]:
    """The order's lines in pages; packing depends on the lines alone, so page N is the
    same page on every press."""
    return paginate([order_line(order, line, locale=locale) for line in order.lines])
