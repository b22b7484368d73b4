"""The member's own account page, and what it opens: an order in full, its receipt.

Custom ids carry the owner (`account:cancel:{owner}:{order}`, `account:order:{owner}`,
`account:lines:{owner}:{order}:{page}`, `account:receipt:{owner}:{order}`,
`sub:cancel:{owner}:{subscription}`, `sub:resume:{owner}:{subscription}`); the cog
refuses a press by anyone else. Subscription buttons are a family of their own: they
act at the gateway, so nothing that walks the account's pages presses them by accident.
Gifts received carry neither the buyer's order nor, for an anonymous gift, its giver,
in text or in any id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.controls import button, finished, link, select, view
from bot.render.lines import discount_text, order_pages
from bot.render.pages import clamp, page_buttons, page_label
from bot.render.text import COLOUR, SUCCESS, fit_lines, number, safe, signed, until, when
from store.gift_reference import gift_label
from store.money import Money
from store.order_history import GiftReceived, OrderDetail, OrderSummary
from store.orders import LAPSED_STATES, SETTLED_STATES, Order, OrderState
from store.subscriptions import SubscriptionRecord, SubscriptionStatus
from store.views import AccountView

FIELD_LIMIT = 1024
#: Pending orders with Pay and Cancel buttons, one row each; then a row for the order
#: select and one of its own for the cart's Checkout and View cart (see
#: `views.with_cart_row`): 3 + 1 + 1 = Discord's 5 rows.
PENDING_WITH_BUTTONS = 3
#: Of those three rows, at most two go to subscriptions (two subscriptions a row, with
#: up to two buttons each), so a pending order always keeps a row for Pay and Cancel.
SUBSCRIPTION_ROWS = 2
SUBSCRIPTIONS_PER_ROW = 2
#: An ended subscription is still listed this long, so the member sees why it stopped.
ENDED_SHOWN = timedelta(days=7)
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


def shown_subscriptions(
    subscriptions: Sequence[SubscriptionRecord], now: datetime
) -> list[SubscriptionRecord]:
    """The running ones, and those that ended lately (an old end is only clutter)."""
    return [
        s
        for s in subscriptions
        if s.status is not SubscriptionStatus.ENDED or now - s.updated_at <= ENDED_SHOWN
    ]


def price_per_interval(subscription: SubscriptionRecord, locale: str) -> str:
    amount = Money(subscription.amount, subscription.currency).format(locale)
    return f"{amount} a {subscription.interval}"


def subscription_name(subscription: SubscriptionRecord) -> str:
    return f"{subscription.tier.title()}, {subscription.interval}ly"


def tier_ends(account: AccountView) -> dict[str, datetime | None]:
    """When each tier the member holds runs out (None: permanent)."""
    return {m.tier: None if m.permanent else m.expires_at for m in account.memberships}


def subscription_line(
    subscription: SubscriptionRecord,
    *,
    locale: str,
    ends: Mapping[str, datetime | None],
) -> str:
    """Tier, price, and what comes next: the renewal, the end, or the payment to fix.

    The membership's own end is what the member keeps (it includes a failed renewal's
    grace); the gateway's period end, when it reported one, is when it charges next.
    """
    head = f"**{safe(subscription.tier.title(), 80)}** — {price_per_interval(subscription, locale)}"
    kept = ends.get(subscription.tier)
    status = subscription.status
    if status is SubscriptionStatus.ACTIVE:
        renews = subscription.current_period_end or kept
        return f"{head} — renews on {when(renews)}" if renews else f"{head} — active"
    if status is SubscriptionStatus.CANCELING:
        return f"{head} — won't renew: ends on {when(kept)}"
    if status is SubscriptionStatus.PAST_DUE:
        return f"{head} — payment failed — fix by {when(kept)}"
    return f"{head} — ended {when(subscription.updated_at, 'd')}"


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
    subscriptions: Sequence[SubscriptionRecord] = (),
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
    listed = shown_subscriptions(subscriptions, now)
    if listed:
        ends = tier_ends(account)
        lines = [subscription_line(s, locale=locale, ends=ends) for s in listed]
        _listed(embed, "Subscriptions", lines)
    history = [
        entry.explain(when=when, points=lambda n: signed(n, locale)) for entry in account.recent[:8]
    ]
    _listed(embed, "Recent changes", history)
    pending = [o for o in orders if o.state is OrderState.PENDING]
    if pending:
        lines = [pending_line(o, locale=locale, now=now, gateways=gateways) for o in pending]
        _listed(embed, "Pending orders", lines)
    recent = [
        f"#{o.id} — {_state(o.state)} — {o.total.format(locale)}" for o in orders[:RECENT_SHOWN]
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
    subscriptions: Sequence[SubscriptionRecord] = (),
    manage_urls: Mapping[int, str] | None = None,
) -> discord.ui.View | None:
    """Pay (the same gateway link, while it works) and Cancel for each pending order, and
    a select to open any recent order. None when there is nothing to act on.

    Each subscription still running gets Cancel renewal (active or past due) or Resume
    (canceling), and Update payment when the gateway gave a link (`manage_urls`, by
    subscription id). Subscriptions take at most `SUBSCRIPTION_ROWS` of the three
    rows before the select, pending orders the rest.
    """
    result = discord.ui.View(timeout=None)
    rows = subscription_rows(owner, subscriptions, manage_urls or {})
    pending = [o for o in orders if o.state is OrderState.PENDING]
    if pending:
        rows = rows[: min(SUBSCRIPTION_ROWS, PENDING_WITH_BUTTONS - 1)]
    else:
        rows = rows[:PENDING_WITH_BUTTONS]
    for row, items in enumerate(rows):
        for item in items:
            item.row = row
            result.add_item(item)
    row = len(rows)
    for order in pending[: PENDING_WITH_BUTTONS - len(rows)]:
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
                label=f"#{o.id} · {_state(o.state)} · {o.total.format(locale)}"[:100],
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


def subscription_rows(
    owner: int, subscriptions: Sequence[SubscriptionRecord], manage_urls: Mapping[int, str]
) -> list[list[discord.ui.Item[Any]]]:
    """Each running subscription's buttons, two subscriptions to a row (4 of 5 places)."""
    groups: list[list[discord.ui.Item[Any]]] = []
    for subscription in subscriptions:
        if subscription.status is SubscriptionStatus.ENDED:
            continue
        name = subscription_name(subscription)
        action, label, style = (
            ("resume", "Resume", discord.ButtonStyle.success)
            if subscription.status is SubscriptionStatus.CANCELING
            else ("cancel", "Cancel renewal", discord.ButtonStyle.danger)
        )
        items: list[discord.ui.Item[Any]] = [
            button(f"sub:{action}:{owner}:{subscription.id}", f"{label} · {name}"[:80], style=style)
        ]
        url = manage_urls.get(subscription.id)
        if url is not None:
            items.append(link(url, f"Update payment · {name}"[:80]))
        groups.append(items)
    return [
        [item for group in groups[i : i + SUBSCRIPTIONS_PER_ROW] for item in group]
        for i in range(0, len(groups), SUBSCRIPTIONS_PER_ROW)
    ]


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
    off = discount_text(order, locale=locale)
    if off is None:
        facts.append(f"**Total:** {order.subtotal.format(locale)}")
    else:
        facts.append(f"**Subtotal:** {order.subtotal.format(locale)}")
        facts.append(f"**Coupon:** {off}")
        assert order.discount is not None
        facts.append(f"**Total:** {(order.subtotal - order.discount).format(locale)}")
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


def subscription_cancel_embed(
    subscription: SubscriptionRecord, ends: datetime | None
) -> discord.Embed:
    """What a Cancel renewal press set going: the gateway was told, the store waits for
    its word, so this says what will happen, not that the account already changed."""
    tier = safe(subscription.tier.title(), 80)
    keep = f"you keep {tier} until {when(ends)}" if ends else f"you keep {tier} as it stands"
    return discord.Embed(
        title=f"{tier} won't renew",
        description=f"It won't renew; {keep}. Nothing more will be charged. You can "
        "resume it from /account before then. Your account shows the change as soon as "
        "the payment provider confirms it.",
        colour=SUCCESS,
    )


def subscription_resume_embed(
    subscription: SubscriptionRecord, renews: datetime | None, *, locale: str
) -> discord.Embed:
    tier = safe(subscription.tier.title(), 80)
    price = price_per_interval(subscription, locale)
    on = f" on {when(renews)}" if renews else ""
    return discord.Embed(
        title=f"{tier} renews again",
        description=f"It will renew{on} for {price}, as before. Your account shows the "
        "change as soon as the payment provider confirms it.",
        colour=SUCCESS,
    )
