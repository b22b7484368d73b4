"""Embeds for the shop, the cart, checkout and accounts.

Every reply carries the member's cart summary, built by `with_cart` alone, so the
summary looks the same everywhere. Text members wrote is escaped before display.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord
from babel.numbers import format_decimal

from store.carts import CartSummary
from store.catalog import Catalog, CatalogItem
from store.orders import Order
from store.views import AccountView

COLOUR = discord.Colour.blurple()
REFUSAL = discord.Colour.orange()
FAILURE = discord.Colour.red()
SUCCESS = discord.Colour.green()
KIND_TITLES = {"membership": "Memberships", "points": "Points"}


def safe(text: str, limit: int = 1000) -> str:
    """Member text shown as written: no markdown tricks, no mentions, bounded."""
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def when(moment: datetime | None, style: str = "f") -> str:
    """A moment every member sees in their own time zone and language (Discord markup).

    Styles: "f" date and time (membership ends), "t" time alone (a link lasting an
    hour), "R" relative ("in 59 minutes"), "d" short date (ledger lines).
    """
    if moment is None:
        return "never"
    return f"<t:{int(moment.timestamp())}:{style}>"


def number(value: int, locale: str) -> str:
    """A count (points) grouped as the shop's locale writes it: 1,000 or 1.000."""
    return str(format_decimal(value, locale=locale))


def signed(value: int, locale: str) -> str:
    """A change in a count, with its sign: +1,000 or -50 (grouped as `number`)."""
    return ("+" if value > 0 else "") + number(value, locale)


def until(moment: datetime) -> str:
    """A deadline within the hour or so: its time and how long is left."""
    return f"{when(moment, 't')} ({when(moment, 'R')})"


def cart_line(summary: CartSummary, *, locale: str) -> str:
    if summary.is_empty:
        return "Empty — add something with /shop."
    count = summary.item_count
    return (
        f"{count} item{'s' if count != 1 else ''} · {summary.total.format(locale)} — "
        "press **Checkout** or use /checkout"
    )


def with_cart(embed: discord.Embed, summary: CartSummary, *, locale: str) -> discord.Embed:
    """Append the cart summary every reply shows."""
    embed.add_field(name="🛒 Your cart", value=cart_line(summary, locale=locale), inline=False)
    return embed


def shop_embed(catalog: Catalog, shop_name: str, *, locale: str) -> discord.Embed:
    embed = discord.Embed(
        title=shop_name,
        description="Pick an item below to see details, add it or gift it.",
        colour=COLOUR,
    )
    for kind, items in catalog.by_kind().items():
        lines = [f"**{item.name}** — {item.price.format(locale)}" for item in items]
        embed.add_field(
            name=KIND_TITLES.get(kind, kind.title()), value="\n".join(lines)[:1024], inline=False
        )
    return embed


def item_embed(catalog: Catalog, item: CatalogItem, *, locale: str) -> discord.Embed:
    embed = discord.Embed(title=item.name, description=item.description or None, colour=COLOUR)
    embed.add_field(name="Price", value=item.price.format(locale))
    embed.add_field(name="You get", value=catalog.describe(item))
    gift = (
        "Give it to another member, by name or anonymously, with a note."
        if item.giftable
        else "This item can't be given as a gift."
    )
    embed.add_field(name="As a gift", value=gift, inline=False)
    if item.image_url:
        embed.set_thumbnail(url=item.image_url)
    embed.set_footer(text=f"Item code: {item.sku}")
    return embed


def cart_embed(summary: CartSummary, *, locale: str) -> discord.Embed:
    embed = discord.Embed(title="Your cart", colour=COLOUR)
    if summary.is_empty:
        embed.description = "Nothing here yet. Browse with /shop."
        return embed
    for index, line in enumerate(summary.lines, start=1):
        details = [f"{line.description} · {line.total.format(locale)}"]
        if line.is_gift:
            who = f"<@{line.recipient_id}>"
            details.append(f"Gift for {who}{' (anonymous)' if line.anonymous else ''}")
            if line.note:
                details.append(f"Note: {safe(line.note, 300)}")
        embed.add_field(
            name=f"{index}. {line.name} × {line.quantity}"[:256],
            value="\n".join(details)[:1024],
            inline=False,
        )
    embed.add_field(name="Total", value=summary.total.format(locale), inline=False)
    return embed


def added_embed(summary: CartSummary, sku: str, recipient_id: int) -> discord.Embed:
    line = next((ln for ln in reversed(summary.lines) if ln.sku == sku), None)
    name = line.name if line else sku
    gift = f" as a gift for <@{recipient_id}>" if recipient_id != summary.member_id else ""
    return discord.Embed(title="Added to your cart", description=f"{name}{gift}.", colour=SUCCESS)


TEST_PAYMENT = (
    "This shop takes test payments only: paying here is a test, no money is taken, "
    "and no real card is charged."
)


def checkout_embed(
    order: Order, url_expires: datetime | None, *, locale: str, test_payment: bool = False
) -> discord.Embed:
    """``test_payment``: the gateway takes no real money, and the member must know it."""
    embed = discord.Embed(title=f"Order #{order.id}", colour=COLOUR)
    for line in order.lines:
        gift = f" (gift for <@{line.recipient_id}>)" if line.recipient_id != order.buyer_id else ""
        embed.add_field(
            name=f"{line.name} × {line.quantity}"[:256],
            value=f"{line.total.format(locale)}{gift}"[:1024],
            inline=False,
        )
    if order.points_applied:
        embed.add_field(
            name="Points applied",
            value=f"{number(order.points_applied, locale)} ({order.points_value.format(locale)})",
        )
    embed.add_field(name="To pay", value=order.cash_due.format(locale))
    if url_expires is not None:
        embed.description = (
            "Press **Pay** to pay on the secure checkout page. The link expires "
            f"at {until(url_expires)}; after that the items go back to your cart."
        )
    if test_payment:
        embed.add_field(name="⚠️ Test payment", value=TEST_PAYMENT, inline=False)
    return embed


def paid_with_points_embed(order: Order, *, locale: str) -> discord.Embed:
    return discord.Embed(
        title=f"Order #{order.id} paid with points",
        description=(
            f"{number(order.points_applied, locale)} points spent. "
            "Everything has been delivered; see /account."
        ),
        colour=SUCCESS,
    )


def already_paid_embed(order: Order) -> discord.Embed:
    """Checkout pressed again after its order was paid: say so, whatever paid it."""
    return discord.Embed(
        title=f"Order #{order.id} is already paid",
        description=(
            f"Order #{order.id} was paid on {when(order.paid_at)}; your cart is empty. "
            "See /account for what it gave you."
        ),
        colour=SUCCESS,
    )


def account_embed(account: AccountView, orders: Sequence[Order], *, locale: str) -> discord.Embed:
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
    embed.add_field(name="Memberships", value="\n".join(memberships) or "None yet.", inline=False)
    history = [
        entry.explain(when=when, points=lambda n: signed(n, locale)) for entry in account.recent[:8]
    ]
    embed.add_field(
        name="Recent changes", value="\n".join(history)[:1024] or "None yet.", inline=False
    )
    recent = [
        f"#{o.id} — {o.state.replace('_', ' ')} — {o.subtotal.format(locale)}" for o in orders[:8]
    ]
    embed.add_field(name="Recent orders", value="\n".join(recent) or "None yet.", inline=False)
    return embed


def refusal_embed(message: str) -> discord.Embed:
    return discord.Embed(title="Can't do that", description=message[:4000], colour=REFUSAL)


def failure_embed(reference: str) -> discord.Embed:
    return discord.Embed(
        title="Something went wrong",
        description=(
            "Please try again in a moment. If it keeps happening, tell a moderator the "
            f"reference **{reference}**."
        ),
        colour=FAILURE,
    )
