"""The member's own account page."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.render.text import COLOUR, number, signed, when
from store.orders import Order
from store.views import AccountView


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
