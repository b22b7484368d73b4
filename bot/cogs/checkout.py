"""Checkout: from the cart to an order, its Pay link, or points.

The payment flow decides (one order per cart, one gateway session per order); this
cog translates the press and the outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.render import checkout as render
from bot.replies import Refusal, Reply

if TYPE_CHECKING:
    from bot.app import StorefrontBot


def _shop_id(interaction: discord.Interaction[Any]) -> int:
    assert interaction.guild_id is not None  # Replies.guard refuses DMs first
    return interaction.guild_id


class CheckoutCog(commands.Cog, name="Checkout"):
    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies
        router = bot.router
        router.route("cart:checkout", self._on_checkout, args=1)
        router.route("cart:points", self._on_checkout_points, args=1)
        router.route("panel:checkout", self._on_panel_checkout)

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
        if self._owner_mismatch(interaction, args[0]):
            await self.replies.guard(interaction, self._not_yours)
            return
        await self._checkout_guarded(interaction, False)

    async def _on_checkout_points(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        if self._owner_mismatch(interaction, args[0]):
            await self.replies.guard(interaction, self._not_yours)
            return
        await self._checkout_guarded(interaction, True)

    async def _on_panel_checkout(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._checkout_guarded(interaction, False)

    @property
    def _locale(self) -> str:
        return self.shop.ctx.config.locale

    async def _checkout_guarded(
        self, interaction: discord.Interaction[Any], use_points: bool
    ) -> None:
        async def checkout() -> Reply:
            points = 10**12 if use_points else 0
            outcome = await self.bot.flow.checkout(
                _shop_id(interaction), interaction.user.id, points=points
            )
            order, cart = outcome.order, outcome.cart
            test_payment = not self.bot.gateway.takes_real_money
            if outcome.session is None:
                if outcome.already_paid:
                    return Reply(render.already_paid_embed(order), summary=cart)
                if outcome.paid_with_points:
                    return Reply(
                        render.paid_with_points_embed(order, locale=self._locale), summary=cart
                    )
                return Reply(
                    render.checkout_embed(
                        order, None, locale=self._locale, test_payment=test_payment
                    ),
                    summary=cart,
                )
            return Reply(
                render.checkout_embed(
                    order,
                    outcome.session.expires_at,
                    locale=self._locale,
                    test_payment=test_payment,
                ),
                render.pay_view(outcome.session.url),
                summary=cart,
            )

        # The gateway call can take a while: acknowledge first, answer in a followup.
        await self.replies.guard(interaction, checkout, mutating=True, defer=True)

    async def _not_yours(self) -> Reply:
        raise Refusal("That button belongs to another member's cart. Use /cart to see yours.")

    def _owner_mismatch(self, interaction: discord.Interaction[Any], owner: str) -> bool:
        return owner != str(interaction.user.id)
