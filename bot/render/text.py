"""What every reply is written with: colours, escaping, counts, Discord timestamps.

Shared by every renderer, so a price, a count or a moment reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import discord
from babel.numbers import format_decimal

from store.money import Money, currency_digits

COLOUR = discord.Colour.blurple()
REFUSAL = discord.Colour.orange()
FAILURE = discord.Colour.red()
SUCCESS = discord.Colour.green()


def safe(text: str, limit: int = 1000) -> str:
    """Member text shown as written: no markdown tricks, no mentions, bounded."""
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def major_units(money: Money) -> str:
    """Major units with the currency's own decimals ("12.50", "300" for JPY), a plain
    number: what a spreadsheet or a form field reads back, unlike a formatted price."""
    return str(Decimal(money.amount).scaleb(-currency_digits(money.currency)))


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """As many whole lines as fit in `limit` characters, then how many were left out:
    a long list still sends (a receipt, an account page), and says it was cut."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"… and {len(lines) - index} more"
        if used + len(line) + 1 > limit - len(more) - 1:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


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
