"""The member's own account page, and what it opens: an order in full, its receipt.

Custom ids carry the owner (`account:cancel:{owner}:{order}`, `account:order:{owner}`,
`account:lines:{owner}:{order}:{page}`, `account:receipt:{owner}:{order}`); the cog
refuses a press by anyone else. Gifts received carry neither the buyer's order nor,
for an anonymous gift, its giver, in text or in any id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import discord

from bot.controls import button, finished, link, select, view
from bot.render.lines import order_pages
from bot.render.pages import clamp, page_buttons, page_label
from bot.render.text import COLOUR, SUCCESS, fit_lines, number, safe, signed, until, when
from store.gift_reference import gift_label
from store.order_history import GiftReceived, OrderDetail, OrderSummary
from store.orders import LAPSED_STATES, SETTLED_STATES, Order, OrderState
from store.views import AccountView

FIELD_LIMIT = 1024
#: Pending orders with Pay and Cancel buttons, one row each; then a row for the order
#: select and one of its own for the cart's Checkout and View cart (see
#: `views.with_cart_row`): 3 + 1 + 1 = Discord's 5 rows.
PENDING_WITH_BUTTONS = 3
RECENT_SHOWN = 8
OPTIONS_LIMIT = 25


def _state(state: OrderState) -> str:
    return state.replace("_", " ")


def _listed(embed: discord.Embed, name: str, lines: Sequence[str]) -> None:
    """A field of as many whole lines as fit, then how many were left out."""
    embed.add_field(name=name, value=fit_lines(lines, FIELD_LIMIT) or "None yet.", inline=False)


def pending_line(
    order: OrderSummary, *, locale: str, now: datetime, gateways: Collection[str]
) -> str:
    amount = order.cash_due.format(locale)
    if order.payable(now, gateways):
        assert order.checkout_expires_at is not None
        return f"#{order.id} — {amount} — pay by {until(order.checkout_expires_at)}"
    if order.checkout_url is not None and order.gateway not in gateways:
        return f"#{order.id} — {amount} — its way of paying is no longer offered: cancel it"
    if order.checkout_url is None:
        return f"#{order.id} — {amount} — no payment link yet: press Checkout or use /checkout"
    return f"#{order.id} — {amount} — link expired: the items go back to your cart shortly"


def gift_line(gift: GiftReceived) -> str:
    """Item, when, from whom; an anonymous gift names no one."""
    giver = "anonymous" if gift.giver_id is None else f"from <@{gift.giver_id}>"
    back = " (taken back)" if gift.taken_back else ""
    quantity = f" × {gift.quantity}" if gift.quantity != 1 else ""
    return (
        f"**{safe(gift.name, 80)}**{quantity} — {when(gift.received_at, 'd')} — {giver} "
        f"— {gift_label(gift.gift_ref)}{back}"
    )


def account_embed(
    account: AccountView,
    orders: Sequence[OrderSummary],
    gifts: Sequence[GiftReceived],
    *,
    locale: str,
    now: datetime,
    gateways: Collection[str],
) -> discord.Embed:
    """``gateways``: the enabled ones; an order at another has no working Pay link."""
    embed = discord.Embed(title="Your account", colour=COLOUR)
    points = number(account.points, locale)
    if account.points_reserved:
        points += f" ({number(account.points_reserved, locale)} held for a pending order)"
    embed.add_field(name="Points", value=points, inline=False)
    memberships = [
        f"**{m.tier.title()}** — "
        + (
            "permanent"
            if m.permanent
            else f"{'ends' if m.active else 'ended'} {when(m.expires_at)}"
        )
        for m in account.memberships
    ]
    _listed(embed, "Memberships", memberships)
    history = [
        entry.explain(when=when, points=lambda n: signed(n, locale)) for entry in account.recent[:8]
    ]
    _listed(embed, "Recent changes", history)
    pending = [o for o in orders if o.state is OrderState.PENDING]
    if pending:
        lines = [pending_line(o, locale=locale, now=now, gateways=gateways) for o in pending]
        _listed(embed, "Pending orders", lines)
    recent = [
        f"#{o.id} — {_state(o.state)} — {o.subtotal.format(locale)}" for o in orders[:RECENT_SHOWN]
    ]
    _listed(embed, "Recent orders", recent)
    _listed(embed, "Gifts received", [gift_line(g) for g in gifts])
    return embed


def account_view(
    owner: int,
    orders: Sequence[OrderSummary],
    *,
    locale: str,
    now: datetime,
    gateways: Collection[str],
) -> discord.ui.View | None:
    """Pay (the same gateway link, while it works) and Cancel for each pending order, and
    a select to open any recent order. None when there is nothing to act on."""
    result = discord.ui.View(timeout=None)
    row = 0
    for order in [o for o in orders if o.state is OrderState.PENDING][:PENDING_WITH_BUTTONS]:
        if order.payable(now, gateways):
            assert order.checkout_url is not None
            pay = link(order.checkout_url, f"Pay #{order.id}")
            pay.row = row
            result.add_item(pay)
        cancel = button(
            f"account:cancel:{owner}:{order.id}",
            f"Cancel #{order.id}",
            style=discord.ButtonStyle.danger,
        )
        cancel.row = row
        result.add_item(cancel)
        row += 1
    if orders:
        options = [
            discord.SelectOption(
                label=f"#{o.id} · {_state(o.state)} · {o.subtotal.format(locale)}"[:100],
                value=str(o.id),
            )
            for o in orders[:OPTIONS_LIMIT]
        ]
        picker = select(f"account:order:{owner}", "Open an order…", options)
        picker.row = row
        result.add_item(picker)
    if not result.children:
        return None
    return finished(result)


def order_embed(
    detail: OrderDetail, *, locale: str, page: int = 0, gateway: str | None = None
) -> discord.Embed:
    """The order in full: state, what was paid and refunded, points, gateway, one page of
    lines (any order fits: 25 lines with the longest notes page). `gateway` is the
    name members know the order's gateway by (its display name)."""
    order = detail.order
    pages = order_pages(order, locale=locale)
    index = clamp(page, len(pages))
    facts = [f"**State:** {_state(order.state)}", f"**Ordered:** {when(order.created_at)}"]
    facts.append(f"**Total:** {order.subtotal.format(locale)}")
    if order.points_applied:
        facts.append(
            f"**Points used:** {number(order.points_applied, locale)} "
            f"({order.points_value.format(locale)})"
        )
    if detail.paid is not None:
        paid_on = f" on {when(order.paid_at)}" if order.paid_at else ""
        facts.append(f"**Paid:** {detail.paid.format(locale)}{paid_on}")
    elif order.state is OrderState.PENDING:
        facts.append(f"**To pay:** {order.cash_due.format(locale)}")
    else:
        facts.append("**Paid:** nothing")
    if detail.refunded.amount:
        facts.append(f"**Refunded:** {detail.refunded.format(locale)}")
    if order.gateway:
        facts.append(f"**Gateway:** {safe(gateway or order.gateway, 80)}")
    if order.state in LAPSED_STATES:
        facts.append("Its items went back to your cart.")
    embed = discord.Embed(title=f"Order #{order.id}", description="\n".join(facts), colour=COLOUR)
    for line in pages[index]:
        embed.add_field(name=line.name, value=line.value, inline=False)
    if len(pages) > 1:
        embed.set_footer(text=page_label(index, len(pages)))
    return embed


def order_view(owner: int, detail: OrderDetail, *, locale: str, page: int = 0) -> discord.ui.View:
    order = detail.order
    pages = order_pages(order, locale=locale)
    index = clamp(page, len(pages))
    items: list[discord.ui.Item[Any]] = list(
        page_buttons(f"account:lines:{owner}:{order.id}", index, len(pages))
    )
    if detail.has_receipt:
        items.append(button(f"account:receipt:{owner}:{order.id}", "Send me the receipt again"))
    return view(*items)


def cancelled_embed(order: Order, *, locale: str) -> discord.Embed:
    """What a Cancel press came to: cancelled, or paid first (paid wins), or lapsed."""
    if order.state is OrderState.CANCELLED:
        points = (
            f" The {number(order.points_applied, locale)} points it held are free again."
            if order.points_applied
            else ""
        )
        return discord.Embed(
            title=f"Order #{order.id} cancelled",
            description=f"Its payment link no longer works, and its items are back in your "
            f"cart.{points}",
            colour=SUCCESS,
        )
    if order.state in SETTLED_STATES:
        return discord.Embed(
            title=f"Order #{order.id} is paid",
            description="The payment arrived before the cancel, so the order stands and "
            "everything it bought is yours. See /account.",
            colour=SUCCESS,
        )
    if order.state is OrderState.HELD:
        return discord.Embed(
            title=f"Order #{order.id} was paid",
            description="The payment arrived before the cancel and waits for a moderator's "
            "review; nothing was cancelled.",
            colour=COLOUR,
        )
    return discord.Embed(
        title=f"Order #{order.id} {_state(order.state)}",
        description="Its items are back in your cart.",
        colour=COLOUR,
    )


def receipt_sent_embed(order_id: int) -> discord.Embed:
    return discord.Embed(
        title="Receipt sent",
        description=f"The receipt for order #{order_id} is in your direct messages.",
        colour=SUCCESS,
    )


DMS_CLOSED = (
    "Your direct messages from this server are closed, so here is the receipt instead "
    "(only you can see it)."
)
