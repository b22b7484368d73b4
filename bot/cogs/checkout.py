"""Checkout: from the cart to an order, its Pay link, or points; the choice of how to
pay when the shop offers several ways; the order's pages.

The payment flow decides (one order per cart, one gateway session per order, whether
the member must choose a gateway first); this cog translates the press and the outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import check_owner, not_your_cart, owns, shop_id, whole
from bot.payflow import CheckoutOutcome, PaymentChoice
from bot.render import checkout as render
from bot.replies import Reply

if TYPE_CHECKING:
    from bot.app import StorefrontBot

#: "As many points as go": the store applies what the member has and the order needs.
ALL_POINTS = 10**12


class CheckoutCog(commands.Cog, name="Checkout"):
    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies
        router = bot.router
        router.route("cart:checkout", self._on_checkout, args=1)
        router.route("cart:points", self._on_checkout_points, args=1)
        router.route("panel:checkout", self._on_panel_checkout)
        router.route("checkout:via", self._on_checkout_via, args=2)
        router.route("checkout:page", self._on_checkout_page, args=3)

    @app_commands.command(name="checkout", description="Pay for your cart")
    @app_commands.describe(use_points="Pay with your points as far as they go")
    @app_commands.guild_only()
    async def checkout_command(
        self, interaction: discord.Interaction[Any], use_points: bool = False
    ) -> None:
        await self._checkout_guarded(interaction, use_points)

    async def _on_checkout(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._checkout_guarded(interaction, False, owner=args[0])

    async def _on_checkout_points(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._checkout_guarded(interaction, True, owner=args[0])

    async def _on_panel_checkout(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._checkout_guarded(interaction, False)

    async def _on_checkout_via(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        """A gateway button of the choice: `checkout:via:{owner}:{gateway}`."""
        await self._checkout_guarded(interaction, False, gateway=args[1], owner=args[0])

    async def _on_checkout_page(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        """◀ ▶ of the checkout summary: `checkout:page:{owner}:{order}:{page}`, read-only."""
        owner, order_id, page = args

        async def turn() -> Reply:
            check_owner(interaction, owner)
            order = await self.shop.orders.get(
                shop_id(interaction), whole(order_id), buyer_id=interaction.user.id
            )
            flow = self.bot.flow
            url = flow.stored_link(order)
            locale = await self._locale(interaction)
            shown = render.checkout_embed(
                order,
                order.checkout_expires_at if url else None,
                locale=locale,
                test_payment=url is not None and flow.test_payment(order),
                page=whole(page),
            )
            view = render.checkout_view(
                order,
                interaction.user.id,
                url,
                locale=locale,
                page=whole(page),
            )
            return Reply(shown, view, edit=True)

        await self.replies.guard(interaction, turn)

    async def _locale(self, interaction: discord.Interaction[Any]) -> str:
        """The guild's shop's locale: every price a member sees is formatted in it."""
        return (await self.shop.shops.get(shop_id(interaction))).locale

    async def _checkout_guarded(
        self,
        interaction: discord.Interaction[Any],
        use_points: bool,
        gateway: str | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        """Check out the member's cart; `owner` is the member a button was made for, and
        a press by anyone else is refused at once (nothing deferred, nothing changed)."""
        if owner is not None and not owns(interaction, owner):
            await self.replies.guard(interaction, not_your_cart)
            return

        async def checkout() -> Reply:
            outcome = await self.bot.flow.begin_checkout(
                shop_id(interaction),
                interaction.user.id,
                points=ALL_POINTS if use_points else 0,
                gateway=gateway,
            )
            locale = await self._locale(interaction)
            if isinstance(outcome, PaymentChoice):
                return self._choice(interaction, outcome, locale)
            return self._outcome(interaction, outcome, locale)

        # The gateway call can take a while: acknowledge first, answer in a followup.
        await self.replies.guard(interaction, checkout, mutating=True, defer=True)

    def _choice(
        self, interaction: discord.Interaction[Any], choice: PaymentChoice, locale: str
    ) -> Reply:
        return Reply(
            render.choice_embed(choice, locale=locale),
            render.choice_view(
                interaction.user.id,
                choice.options,
                choice.points,
                locale=locale,
            ),
            summary=choice.cart,
        )

    def _outcome(
        self, interaction: discord.Interaction[Any], outcome: CheckoutOutcome, locale: str
    ) -> Reply:
        order, cart = outcome.order, outcome.cart
        if outcome.session is None:
            if outcome.already_paid:
                return Reply(render.already_paid_embed(order), summary=cart)
            if outcome.paid_with_points:
                return Reply(
                    render.paid_with_points_embed(order, locale=locale),
                    summary=cart,
                )
        expires = outcome.session.expires_at if outcome.session else None
        url = outcome.session.url if outcome.session else None
        return Reply(
            render.checkout_embed(
                order,
                expires,
                locale=locale,
                test_payment=outcome.test_payment,
            ),
            render.checkout_view(order, interaction.user.id, url, locale=locale),
            summary=cart,
        )
