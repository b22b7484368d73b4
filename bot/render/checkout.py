"""Embeds and components for checkout: the order to pay (in pages), its Pay link, the
choice of how to pay when a shop offers several ways, and what a press found when the
order was paid already."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.controls import button, link, view
from bot.payflow import GatewayOption, PaymentChoice
from bot.render.lines import discount_text, order_pages
from bot.render.pages import clamp, page_buttons, page_label
from bot.render.text import COLOUR, SUCCESS, number, until, when
from store.orders import Order

TEST_PAYMENT = (
    "This shop takes test payments only: paying here is a test, no money is taken, "
    "and no real card is charged."
)


def checkout_embed(
    order: Order,
    url_expires: datetime | None,
    *,
    locale: str,
    test_payment: bool = False,
    page: int = 0,
) -> discord.Embed:
    """Page ``page`` (kept in range) of the order; the totals and notices on every page.

    ``test_payment``: the gateway takes no real money, and the member must know it.
    """
    embed = discord.Embed(title=f"Order #{order.id}", colour=COLOUR)
    pages = order_pages(order, locale=locale)
    index = clamp(page, len(pages))
    for field in pages[index]:
        embed.add_field(name=field.name, value=field.value, inline=False)
    _totals(embed, order, locale)
    if url_expires is not None:
        embed.description = (
            "Press **Pay** to pay on the secure checkout page. The link expires "
            f"at {until(url_expires)}; after that the items go back to your cart."
        )
    if test_payment:
        embed.add_field(name="⚠️ Test payment", value=TEST_PAYMENT, inline=False)
    if len(pages) > 1:
        embed.set_footer(text=page_label(index, len(pages)))
    return embed


def checkout_view(
    order: Order, owner: int, url: str | None, *, locale: str, page: int = 0
) -> discord.ui.View | None:
    """The Pay link (while the order has one) and ◀ ▶ when the order spans pages."""
    pages = len(order_pages(order, locale=locale))
    index = clamp(page, pages)
    items: list[discord.ui.Item[discord.ui.View]] = []
    if url is not None:
        items.append(link(url, "Pay"))
    items.extend(page_buttons(f"checkout:page:{owner}:{order.id}", index, pages))
    return view(*items) if items else None


def choice_embed(choice: PaymentChoice, *, locale: str) -> discord.Embed:
    """How would you like to pay? Asked before any gateway is involved."""
    embed = discord.Embed(title="How would you like to pay?", colour=COLOUR)
    order = choice.order
    if order is None:
        embed.description = "Choose how to pay below; nothing is ordered until you do." + (
            f" You can also put your {number(choice.points, locale)} points towards it."
            if choice.points
            else ""
        )
        cart = choice.cart
        if cart is not None:
            if cart.coupon is not None and cart.discount.amount:
                embed.add_field(name="Subtotal", value=cart.subtotal.format(locale))
                off = f"−{cart.discount.format(locale)} (code {cart.coupon.code})"
                embed.add_field(name="Coupon", value=off)
            embed.add_field(name="To pay", value=cart.total.format(locale))
        return embed
    embed.title = f"Order #{order.id}: how would you like to pay?"
    embed.description = "Your order waits for payment. Choose how to pay below."
    _totals(embed, order, locale)
    return embed


def _totals(embed: discord.Embed, order: Order, locale: str) -> None:
    """Subtotal and coupon (when one took something off), points, and what is left."""
    off = discount_text(order, locale=locale)
    if off is not None:
        embed.add_field(name="Subtotal", value=order.subtotal.format(locale))
        embed.add_field(name="Coupon", value=off)
    if order.points_applied:
        embed.add_field(
            name="Points applied",
            value=f"{number(order.points_applied, locale)} ({order.points_value.format(locale)})",
        )
    embed.add_field(name="To pay", value=order.cash_due.format(locale))


PRIMARY, SECONDARY = discord.ButtonStyle.primary, discord.ButtonStyle.secondary


def choice_view(
    owner: int, options: Sequence[GatewayOption], points: int, *, locale: str
) -> discord.ui.View:
    """One button per gateway (its display name), then "Use my N points" when there are.

    The points button is the cart's own (``cart:points``), so it behaves exactly as
    everywhere else; the gateway buttons carry the member and the gateway's name.
    """
    items = [
        button(
            f"checkout:via:{owner}:{option.name}"[:100],
            option.label[:80],
            style=(
                discord.ButtonStyle.secondary
                if option.test_payment
                else discord.ButtonStyle.primary
            ),
        )
        for option in options[:20]
    ]
    if points:
        items.append(
            button(
                f"cart:points:{owner}",
                f"Use my {number(points, locale)} points",
                style=discord.ButtonStyle.success,
            )
        )
    return view(*items)


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
    return view(link(url, "Pay"))
