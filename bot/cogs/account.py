"""The member's account: points, memberships, recent changes and orders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.render import account as render
from bot.replies import Reply

if TYPE_CHECKING:
    from bot.app import StorefrontBot


def _shop_id(interaction: discord.Interaction[Any]) -> int:
    assert interaction.guild_id is not None  # Replies.guard refuses DMs first
    return interaction.guild_id


class AccountCog(commands.Cog, name="Account"):
    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies

    @app_commands.command(name="account", description="Your points, memberships and orders")
    @app_commands.guild_only()
    async def account_command(self, interaction: discord.Interaction[Any]) -> None:
        await self.replies.guard(interaction, lambda: self._account(interaction))

    @property
    def _locale(self) -> str:
        return self.shop.ctx.config.locale

    async def _account(self, interaction: discord.Interaction[Any]) -> Reply:
        shop_id, member = _shop_id(interaction), interaction.user.id
        account = await self.shop.accounts.account(shop_id, member)
        orders = await self.shop.orders.recent(shop_id, member, limit=8)
        return Reply(render.account_embed(account, orders, locale=self._locale))
