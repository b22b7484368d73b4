"""Embeds and modals for moderators running their shop: the catalog, the setup, and
audit posts showing a change before and after."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.render.admin import AUDIT
from bot.render.text import COLOUR, fit_lines, safe, when
from store.catalog import CatalogItem
from store.shops import ShopDefinition

#: Room the catalog list leaves for the retired field and the title (embed total 6000).
_LIST_MAX = 4000
_FIELD_MAX = 1024


def item_modal(
    custom_id: str, title: str, values: Mapping[str, str], *, sku: bool
) -> discord.ui.Modal:
    """The add form (with SKU) or the edit form (prefilled, no SKU); the submit is
    routed by `custom_id` (see bot.cogs.catalog_admin), not by this object."""
    modal = discord.ui.Modal(title=title[:45], custom_id=custom_id, timeout=None)
    if sku:
        modal.add_item(
            discord.ui.TextInput(
                label="SKU (never changes; e.g. vip-1m)", custom_id="sku", max_length=40
            )
        )
    modal.add_item(
        discord.ui.TextInput(
            label="Name", custom_id="name", max_length=80, default=values.get("name") or None
        )
    )
    modal.add_item(
        discord.ui.TextInput(
            label="Price (e.g. 4.99)",
            custom_id="price",
            max_length=20,
            default=values.get("price") or None,
        )
    )
    modal.add_item(
        discord.ui.TextInput(
            label="Description",
            custom_id="description",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1000,
            default=values.get("description") or None,
        )
    )
    modal.add_item(
        discord.ui.TextInput(
            label="Options: one key = value a line",
            custom_id="options",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=4000,
            placeholder=values.get("placeholder") or None,
            default=values.get("options") or None,
        )
    )
    return modal


def _item_line(item: CatalogItem, locale: str, left: int | None) -> str:
    parts = [f"`{item.sku}` **{safe(item.name, 80)}** — {item.price.format(locale)}", item.kind]
    if item.stock is not None:
        parts.append(f"stock {item.stock}" + ("" if left is None else f" ({left} left)"))
    if item.per_member_limit is not None:
        parts.append(f"{item.per_member_limit} per member")
    if item.available_from is not None or item.available_until is not None:
        opens = when(item.available_from, "d") if item.available_from else "now"
        closes = when(item.available_until, "d") if item.available_until else "open-ended"
        parts.append(f"on sale {opens} – {closes}")
    if not item.giftable:
        parts.append("not giftable")
    return " · ".join(parts)


def catalog_embed(shop: ShopDefinition, left: Mapping[str, int]) -> discord.Embed:
    """Every item on sale with its price, kind and limits; the retired SKUs below."""
    locale = shop.locale
    lines = [_item_line(item, locale, left.get(item.sku)) for item in shop.catalog]
    embed = discord.Embed(
        title=safe(f"Catalog — {shop.name}", 256),
        description=fit_lines(lines, _LIST_MAX) if lines else "The shop sells nothing yet.",
        colour=COLOUR,
    )
    retired = _joined([f"`{item.sku}`" for item in shop.profile.retired], _FIELD_MAX)
    if retired:
        embed.add_field(name="Retired (SKUs never reused)", value=retired, inline=False)
    embed.set_footer(text=f"{shop.currency} · {shop.locale} · {len(lines)} items")
    return embed


def setup_embed(shop: ShopDefinition, note: str | None = None) -> discord.Embed:
    """The shop's settings as they are now."""
    profile = shop.profile
    embed = discord.Embed(title=safe(f"Setup — {profile.name}", 256), colour=COLOUR)
    if note:
        embed.description = safe(note, 4000)
    embed.add_field(name="Currency", value=profile.currency)
    embed.add_field(name="Locale", value=profile.locale)
    embed.add_field(name="Point value", value=shop.money(profile.point_value).format(shop.locale))
    embed.add_field(
        name="Minimum card payment", value=shop.money(profile.minimum_cash).format(shop.locale)
    )
    embed.add_field(
        name="Audit channel",
        value=f"<#{profile.audit_channel_id}>" if profile.audit_channel_id else "none",
    )
    embed.add_field(
        name="Ways of paying",
        value="all enabled" if profile.gateways is None else ", ".join(profile.gateways),
    )
    roles = [f"<@&{role}>" for role in profile.moderator_role_ids]
    embed.add_field(
        name="Moderator roles",
        value=fit_lines(roles, _FIELD_MAX) if roles else "none (Manage Server only)",
        inline=False,
    )
    tiers = [
        f"{safe(name, 40)}: " + (f"<@&{tier.role_id}>" if tier.role_id else "no role")
        for name, tier in profile.tiers.items()
    ]
    embed.add_field(
        name="Membership tiers",
        value=fit_lines(tiers, _FIELD_MAX) if tiers else "none",
        inline=False,
    )
    return embed


def change_audit_embed(
    actor_id: int, what: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> discord.Embed:
    """Who changed what in the shop, with the entry before and after."""
    embed = discord.Embed(title="Shop changed", colour=AUDIT)
    embed.add_field(name="Who", value=f"<@{actor_id}>")
    embed.add_field(name="What", value=safe(what, _FIELD_MAX), inline=False)
    embed.add_field(name="Before", value=_entry(before), inline=False)
    embed.add_field(name="After", value=_entry(after), inline=False)
    return embed


def _joined(words: list[str], limit: int) -> str:
    """Words separated by commas, as many as fit, then how many were left out."""
    shown = ""
    for index, word in enumerate(words):
        more = f" … and {len(words) - index} more"
        candidate = f"{shown}, {word}" if shown else word
        if len(candidate) + len(more) > limit:
            return shown + more
        shown = candidate
    return shown


def _entry(values: Mapping[str, Any] | None) -> str:
    if values is None:
        return "—"
    lines = [f"{key}: {_shown(value, key)}" for key, value in values.items()]
    return safe(fit_lines(lines, _FIELD_MAX - 50), _FIELD_MAX) or "—"


def _shown(value: Any, key: str = "") -> str:
    """A setting as a moderator reads it: roles and channels as Discord mentions."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(_shown(v, key) for v in value) or "none"
    if key == "moderator_role_ids" or (key.startswith("tier ") and key.endswith(" role")):
        return f"<@&{value}>"
    if key == "audit_channel_id":
        return f"<#{value}>"
    return str(value)
