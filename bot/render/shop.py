"""Embeds for the shop and the cart.

Every reply carries the member's cart summary, built by `with_cart` alone, so the
summary looks the same everywhere. Text members wrote is escaped before display.
"""

from __future__ import annotations

import discord

from bot.render.text import COLOUR, SUCCESS, safe
from store.carts import CartSummary
from store.catalog import Catalog, CatalogItem

KIND_TITLES = {"membership": "Memberships", "points": "Points"}


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
