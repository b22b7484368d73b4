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

from bot.payflow import CheckoutOutcome, PaymentChoice
from bot.render import checkout as render
from bot.replies import Refusal, Reply

if TYPE_CHECKING:
    from bot.app import StorefrontBot

#: "As many points as go": the store applies what the member has and the order needs.
ALL_POINTS = 10**12


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

    async def _on_checkout_via(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        """A gateway button of the choice: `checkout:via:{owner}:{gateway}`."""
        if self._owner_mismatch(interaction, args[0]):
            await self.replies.guard(interaction, self._not_yours)
            return
        await self._checkout_guarded(interaction, False, gateway=args[1])

    async def _on_checkout_page(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        """◀ ▶ of the checkout summary: `checkout:page:{owner}:{order}:{page}`, read-only."""
        if self._owner_mismatch(interaction, args[0]):
            await self.replies.guard(interaction, self._not_yours)
            return

        async def page() -> Reply:
            try:
                order_id = int(args[1])
            except ValueError:
                raise Refusal("That button is out of date. Use /checkout again.") from None
            order = await self.shop.orders.get(
                _shop_id(interaction), order_id, buyer_id=interaction.user.id
            )
            flow = self.bot.flow
            url = flow.stored_link(order)
            shown = render.checkout_embed(
                order,
                order.checkout_expires_at if url else None,
                locale=self._locale,
                test_payment=url is not None and flow.test_payment(order),
                page=_page(args[2]),
            )
            view = render.checkout_view(
                order, interaction.user.id, url, locale=self._locale, page=_page(args[2])
            )
            return Reply(shown, view, edit=True)

        await self.replies.guard(interaction, page)

    @property
    def _locale(self) -> str:
        return self.shop.ctx.config.locale

    async def _checkout_guarded(
        self, interaction: discord.Interaction[Any], use_points: bool, gateway: str | None = None
    ) -> None:
        async def checkout() -> Reply:
            outcome = await self.bot.flow.begin_checkout(
                _shop_id(interaction),
                interaction.user.id,
                points=ALL_POINTS if use_points else 0,
                gateway=gateway,
            )
            if isinstance(outcome, PaymentChoice):
                return self._choice(interaction, outcome)
            return self._outcome(interaction, outcome)

        # The gateway call can take a while: acknowledge first, answer in a followup.
        await self.replies.guard(interaction, checkout, mutating=True, defer=True)

    def _choice(self, interaction: discord.Interaction[Any], choice: PaymentChoice) -> Reply:
        return Reply(
            render.choice_embed(choice, locale=self._locale),
            render.choice_view(
                interaction.user.id, choice.options, choice.points, locale=self._locale
            ),
            summary=choice.cart,
        )

    def _outcome(self, interaction: discord.Interaction[Any], outcome: CheckoutOutcome) -> Reply:
        order, cart = outcome.order, outcome.cart
        if outcome.session is None:
            if outcome.already_paid:
                return Reply(render.already_paid_embed(order), summary=cart)
            if outcome.paid_with_points:
                return Reply(
                    render.paid_with_points_embed(order, locale=self._locale), summary=cart
                )
        expires = outcome.session.expires_at if outcome.session else None
        url = outcome.session.url if outcome.session else None
        return Reply(
            render.checkout_embed(
                order, expires, locale=self._locale, test_payment=outcome.test_payment
            ),
            render.checkout_view(order, interaction.user.id, url, locale=self._locale),
            summary=cart,
        )

    async def _not_yours(self) -> Reply:
        raise Refusal("That button belongs to another member's cart. Use /cart to see yours.")

    def _owner_mismatch(self, interaction: discord.Interaction[Any], owner: str) -> bool:
        return owner != str(interaction.user.id)


def _page(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
