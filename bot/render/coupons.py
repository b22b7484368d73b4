"""Embeds for moderators' coupons: the list, what a create or retire did, and the
audit post. Amounts are formatted in the shop's locale; codes are upper-case
letters, digits, - and _ only, so they need no escaping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.render.text import COLOUR, SUCCESS, fit_lines
from store.coupons import Coupon

AUDIT = discord.Colour.dark_gold()
FIELD_LIMIT = 1024


def coupon_line(coupon: Coupon, *, locale: str, names: Mapping[str, str]) -> str:
    """ "**SAVE20** — 20% off · 3 of 100 used · expires 2026-12-31"."""
    return f"**{coupon.code}** — {coupon.describe(locale, names)}"


def coupons_embed(
    coupons: Sequence[Coupon], *, locale: str, names: Mapping[str, str]
) -> discord.Embed:
    """Every coupon of the shop: live ones first, then retired ones, newest first in
    each (what does not fit is counted, and the newest are what a moderator looks for)."""
    embed = discord.Embed(title="Coupons", colour=COLOUR)
    if not coupons:
        embed.description = "No coupons yet. Create one with /shopadmin coupon create."
        return embed
    newest = sorted(coupons, key=lambda c: c.created_at, reverse=True)
    live = [c for c in newest if c.retired_at is None]
    retired = [c for c in newest if c.retired_at is not None]
    for title, group in (("Live", live), ("Retired", retired)):
        if group:
            lines = [coupon_line(c, locale=locale, names=names) for c in group]
            embed.add_field(name=title, value=fit_lines(lines, FIELD_LIMIT), inline=False)
    return embed


def created_embed(coupon: Coupon, *, locale: str, names: Mapping[str, str]) -> discord.Embed:
    expiry = (
        f" It can be used until the end of {_last_day(coupon)} (UTC)."
        if coupon.expires_at is not None
        else ""
    )
    return discord.Embed(
        title=f"Coupon {coupon.code} created",
        description=f"{coupon.describe(locale, names)}.{expiry} Members apply it with "
        f"`/cart coupon code:{coupon.code}` or the Coupon button on their cart.",
        colour=SUCCESS,
    )


def retired_embed(coupon: Coupon) -> discord.Embed:
    return discord.Embed(
        title=f"Coupon {coupon.code} retired",
        description="Members can no longer apply it; orders that used it keep their "
        "discount. Its code is never reused.",
        colour=SUCCESS,
    )


def audit_embed(
    actor_id: int, what: str, coupon: Coupon, *, locale: str, names: Mapping[str, str]
) -> discord.Embed:
    embed = discord.Embed(title="Shop moderation: coupons", colour=AUDIT)
    embed.add_field(name="Who", value=f"<@{actor_id}>")
    embed.add_field(name="What", value=f"{what} {coupon.code}")
    embed.add_field(name="Coupon", value=coupon.describe(locale, names)[:1024], inline=False)
    return embed


def _last_day(coupon: Coupon) -> str:
    """The last day it works (it expires at that day's end, UTC)."""
    assert coupon.expires_at is not None
    return f"{coupon.expires_at:%Y-%m-%d}"
