"""Embeds for moderators: audit posts, a member's account, an order."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.render.lines import discount_text
from bot.render.text import COLOUR, number, safe, signed, when
from store.orders import REVIEW_STATES, Order, OrderState
from store.views import AccountView, LedgerEntry

AUDIT = discord.Colour.dark_gold()


def audit_embed(actor_id: int, action: str, member_id: int | None, reason: str) -> discord.Embed:
    embed = discord.Embed(title="Shop moderation", colour=AUDIT)
    embed.add_field(name="Who", value=f"<@{actor_id}>")
    if member_id is not None:
        embed.add_field(name="Whom", value=f"<@{member_id}>")
    embed.add_field(name="What", value=safe(action, 1024), inline=False)
    embed.add_field(name="Why", value=safe(reason, 1024) or "—", inline=False)
    return embed


def done_embed(summary: str) -> discord.Embed:
    return discord.Embed(
        title="Done", description=safe(summary, 4000), colour=discord.Colour.green()
    )


def member_account_embed(
    member_id: int,
    account: AccountView,
    ledger: Sequence[LedgerEntry],
    orders: Sequence[Order],
    *,
    locale: str,
) -> discord.Embed:
    embed = discord.Embed(title="Member account", description=f"<@{member_id}>", colour=COLOUR)
    embed.add_field(
        name="Points",
        value=f"{number(account.points, locale)} "
        f"({number(account.points_reserved, locale)} reserved)",
    )
    tiers = [
        f"{m.tier}: " + ("permanent" if m.permanent else when(m.expires_at))
        for m in account.memberships
    ]
    embed.add_field(name="Memberships", value="\n".join(tiers) or "none", inline=False)

    def points(count: int) -> str:
        return signed(count, locale)

    lines = [
        f"{when(entry.created_at, 'd')} {entry.explain(show_order=True, when=when, points=points)}"
        + (f" by <@{entry.actor_id}>" if entry.actor_id else "")
        + (f" ({safe(entry.memo, 80)})" if entry.memo else "")
        for entry in ledger[:12]
    ]
    embed.add_field(name="Ledger", value="\n".join(lines)[:1024] or "empty", inline=False)
    recent = [f"#{o.id} {o.state} {o.subtotal.format(locale)}" for o in orders[:10]]
    embed.add_field(name="Orders", value="\n".join(recent) or "none", inline=False)
    return embed


def order_embed(order: Order, *, locale: str) -> discord.Embed:
    embed = discord.Embed(title=f"Order #{order.id}", colour=COLOUR)
    embed.add_field(name="Buyer", value=f"<@{order.buyer_id}>")
    embed.add_field(name="State", value=order.state.replace("_", " "))
    embed.add_field(name="Created", value=when(order.created_at))
    embed.add_field(name="Subtotal", value=order.subtotal.format(locale))
    discount = discount_text(order, locale=locale)
    if discount is not None:
        embed.add_field(name="Coupon", value=discount)
    embed.add_field(name="Points", value=number(order.points_applied, locale))
    embed.add_field(
        name="Cash",
        value=f"{order.cash_due.format(locale)} (refunded {order.refunded.format(locale)})",
    )
    if order.gateway:
        embed.add_field(
            name="Gateway", value=f"{order.gateway} {order.gateway_session_id or ''}"[:1024]
        )
    if order.state in REVIEW_STATES and order.review_reason:
        title = "Held for review" if order.state is OrderState.HELD else "Needs review"
        embed.add_field(name=title, value=safe(order.review_reason, 1024), inline=False)
    if order.state is OrderState.HELD:
        embed.add_field(
            name="Resolve",
            value=(
                f"`/shopadmin resolve order_id:{order.id} action:fulfil` accepts the payment; "
                f"`action:refund` returns it through the gateway."
            ),
            inline=False,
        )
    lines = [
        f"{line.name} × {line.quantity} → <@{line.recipient_id}>"
        + (" (anonymous)" if line.anonymous else "")
        for line in order.lines
    ]
    embed.add_field(name="Lines", value="\n".join(lines)[:1024] or "none", inline=False)
    return embed


def review_embed(orders: Sequence[Order], *, locale: str) -> discord.Embed:
    """Orders a moderator must resolve, each with why."""
    embed = discord.Embed(title="Orders needing review", colour=COLOUR)
    if not orders:
        embed.description = "Nothing is waiting."
    for order in orders[:20]:
        embed.add_field(
            name=f"#{order.id} {order.state.replace('_', ' ')} — {order.cash_due.format(locale)}",
            value=f"<@{order.buyer_id}>: " + safe(order.review_reason or "—", 900),
            inline=False,
        )
    return embed


def panel_embed(shop_name: str) -> discord.Embed:
    return discord.Embed(
        title=shop_name,
        description=(
            "Memberships, gifts and points. The buttons below open your own cart; "
            "only you see the answers."
        ),
        colour=COLOUR,
    )
