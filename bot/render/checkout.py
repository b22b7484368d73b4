"""Embeds and components for checkout: the order to pay, its Pay link, and what a press
found when the order was paid already."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.controls import finished, link
from bot.render.text import COLOUR, SUCCESS, number, until, when
from store.orders import Order

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


def pay_view(url: str) -> discord.ui.View:
    result = discord.ui.View(timeout=None)
    result.add_item(link(url, "Pay"))
    return finished(result)
