"""What every member cog reads from an interaction the same way: the shop it came from,
the value a select picked, a number from a custom id, and whether the member pressing
a button is the one it was made for.

Kept in one place so a forged or stale custom id is read, and refused, alike everywhere.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.replies import Refusal, Reply

NOT_YOUR_CART = "That button belongs to another member's cart. Use /cart to see yours."
NOT_YOUR_ACCOUNT = "That button belongs to another member's account. Use /account to see yours."


def shop_id(interaction: discord.Interaction[Any]) -> int:
    assert interaction.guild_id is not None  # Replies.guard refuses DMs first
    return interaction.guild_id


def picked(item: Any) -> str:
    """The first value a select sent; "" when it sent none."""
    values = list(getattr(item, "values", []) or [])
    return str(values[0]) if values else ""


def whole(text: str) -> int:
    """An order id or page from a custom id or a select; 0 when it isn't a number.

    0 is no order (the store answers "No such order.") and the first page; the
    renderers keep any page in range, so a forged one shows an end.
    """
    try:
        return int(text)
    except ValueError:
        return 0


def owns(interaction: discord.Interaction[Any], owner: str) -> bool:
    """Whether the member pressing is the one the custom id names."""
    return owner == str(interaction.user.id)


def check_owner(
    interaction: discord.Interaction[Any], owner: str, refusal: str = NOT_YOUR_CART
) -> None:
    """A forged or copied custom id never acts on, or shows, another member's things."""
    if not owns(interaction, owner):
        raise Refusal(refusal)


async def not_your_cart() -> Reply:
    """An action refusing a press on another member's cart, before anything is deferred."""
    raise Refusal(NOT_YOUR_CART)
