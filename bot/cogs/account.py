"""The member's account: points, memberships, subscriptions, recent changes, orders and
gifts — and what they can do from there: pay or cancel a pending order, open any recent
order, have its receipt sent again, cancel or resume a subscription's renewal, update
its payment details at the gateway.

The payment flow and the store decide (who may cancel what, what a receipt says); this
cog translates presses and answers. Every custom id names its owner, and a press by
anyone else is refused before anything is read or changed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import NOT_YOUR_ACCOUNT, check_owner, picked, shop_id, whole
from bot.effects import DISCORD_CANNOT_DM
from bot.render import account as render
from bot.render.notices import receipt_embed
from bot.renewals import SubscriptionUnavailable
from bot.replies import NO_MENTIONS, Refusal, Reply
from store.subscriptions import SubscriptionRecord, SubscriptionStatus

if TYPE_CHECKING:
    from bot.app import StorefrontBot

log = logging.getLogger(__name__)


class AccountCog(commands.Cog, name="Account"):
    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies
        router = bot.router
        router.route("account:cancel", self._on_cancel, args=2)
        router.route("account:order", self._on_order, args=1)
        router.route("account:lines", self._on_lines, args=3)
        router.route("account:receipt", self._on_receipt, args=2)
        router.route("sub:cancel", self._on_subscription_cancel, args=2)
        router.route("sub:resume", self._on_subscription_resume, args=2)

    @app_commands.command(name="account", description="Your points, memberships and orders")
    @app_commands.guild_only()
    async def account_command(self, interaction: discord.Interaction[Any]) -> None:
        await self.replies.guard(interaction, lambda: self._account(interaction))

    async def _locale(self, interaction: discord.Interaction[Any]) -> str:
        """The guild's shop's locale: every price a member sees is formatted in it."""
        return (await self.shop.shops.get(shop_id(interaction))).locale

    async def _account(
        self, interaction: discord.Interaction[Any], notice: discord.Embed | None = None
    ) -> Reply:
        """The account page; `notice` (an embed saying what an action set going) leads it."""
        shop, member = shop_id(interaction), interaction.user.id
        account = await self.shop.accounts.account(shop, member)
        orders = await self.shop.history.recent(shop, member)
        gifts = await self.shop.history.gifts_received(shop, member)
        subscriptions = await self.shop.subscriptions.for_member(shop, member)
        now, gateways = self.shop.ctx.now(), self.bot.flow.gateways.keys()
        listed = render.shown_subscriptions(subscriptions, now)
        manage_urls = self._manage_urls(listed)
        locale = await self._locale(interaction)
        embed = render.account_embed(
            account,
            orders,
            gifts,
            locale=locale,
            now=now,
            gateways=gateways,
            subscriptions=listed,
        )
        if notice is not None:
            embed.title = notice.title
            embed.description = notice.description
            embed.colour = notice.colour
        view = render.account_view(
            member,
            orders,
            locale=locale,
            now=now,
            gateways=gateways,
            subscriptions=listed,
            manage_urls=manage_urls,
        )
        return Reply(embed, view)

    def _manage_urls(self, subscriptions: list[SubscriptionRecord]) -> dict[int, str]:
        """Each running subscription's "update payment" link on the shop (the gateway is
        asked only when the member opens it); none at a gateway no longer enabled."""
        links = {
            s.id: self.bot.flow.renewals.manage_link(s.manage_token)
            for s in subscriptions
            if s.status is not SubscriptionStatus.ENDED and s.gateway in self.bot.flow.gateways
        }
        return {sid: link for sid, link in links.items() if link is not None}

    # ---- components ---------------------------------------------------------------

    async def _on_cancel(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        owner, order_id = args

        async def cancel() -> Reply:
            check_owner(interaction, owner, NOT_YOUR_ACCOUNT)
            order = await self.bot.flow.cancel(
                shop_id(interaction), interaction.user.id, whole(order_id)
            )
            return Reply(render.cancelled_embed(order, locale=await self._locale(interaction)))

        # The gateway call can take a while: acknowledge first, answer in a followup.
        await self.replies.guard(interaction, cancel, mutating=True, defer=True)

    async def _on_order(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        async def open_order() -> Reply:
            check_owner(interaction, args[0], NOT_YOUR_ACCOUNT)
            return await self._order_reply(interaction, whole(picked(item)), 0)

        await self.replies.guard(interaction, open_order)

    async def _on_lines(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        owner, order_id, page = args

        async def turn() -> Reply:
            check_owner(interaction, owner, NOT_YOUR_ACCOUNT)
            reply = await self._order_reply(interaction, whole(order_id), whole(page))
            reply.edit = True
            return reply

        await self.replies.guard(interaction, turn)

    async def _on_receipt(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        owner, order_id = args

        async def resend() -> Reply:
            check_owner(interaction, owner, NOT_YOUR_ACCOUNT)
            order = await self.shop.orders.get(
                shop_id(interaction), whole(order_id), buyer_id=interaction.user.id
            )
            locale = await self._locale(interaction)
            receipt = self.shop.history.receipt(order, locale)
            server = interaction.guild.name if interaction.guild is not None else None
            embed = receipt_embed(receipt, server=server, locale=locale)
            if await self._dm(interaction.user.id, embed):
                return Reply(render.receipt_sent_embed(order.id))
            embed.insert_field_at(0, name="Not sent by DM", value=render.DMS_CLOSED, inline=False)
            return Reply(embed)

        await self.replies.guard(interaction, resend, mutating=True)

    async def _on_subscription_cancel(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._subscription_action(interaction, args, resume=False)

    async def _on_subscription_resume(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._subscription_action(interaction, args, resume=True)

    async def _subscription_action(
        self, interaction: discord.Interaction[Any], args: list[str], *, resume: bool
    ) -> None:
        """Ask the gateway to cancel or resume the renewal, then show the account again
        led by what happens next. The store changes only when the gateway's webhook
        says so, so the reply tells what was asked, not what the account already is."""
        owner, subscription_id = args

        async def act() -> Reply:
            check_owner(interaction, owner, NOT_YOUR_ACCOUNT)
            shop, member, number = shop_id(interaction), interaction.user.id, whole(subscription_id)
            renewals = self.bot.flow.renewals
            try:
                if resume:
                    record = await renewals.resume(shop, member, number)
                else:
                    record = await renewals.cancel(shop, member, number)
            except SubscriptionUnavailable as refused:
                raise Refusal(refused.member_message) from refused
            account = await self.shop.accounts.account(shop, member, recent=0)
            ends = render.tier_ends(account).get(record.tier)
            notice = (
                render.subscription_resume_embed(
                    record,
                    record.current_period_end or ends,
                    locale=await self._locale(interaction),
                )
                if resume
                else render.subscription_cancel_embed(record, ends)
            )
            return await self._account(interaction, notice)

        # The gateway call can take a while: acknowledge first, answer in a followup.
        await self.replies.guard(interaction, act, mutating=True, defer=True)

    # ---- small translations ---------------------------------------------------------

    async def _order_reply(
        self, interaction: discord.Interaction[Any], order_id: int, page: int
    ) -> Reply:
        order = await self.shop.orders.get(
            shop_id(interaction), order_id, buyer_id=interaction.user.id
        )
        detail = await self.shop.history.detail(order)
        owner = interaction.user.id
        gateway = self.bot.flow.gateways.get(order.gateway or "")
        label = gateway.label() if gateway is not None else order.gateway
        locale = await self._locale(interaction)
        return Reply(
            render.order_embed(detail, locale=locale, page=page, gateway=label),
            render.order_view(owner, detail, locale=locale, page=page),
        )

    async def _dm(self, user_id: int, embed: discord.Embed) -> bool:
        """Send by DM; False when the member's DMs are closed to the bot (Discord 50007)."""
        try:
            channel = await self.bot.create_dm(discord.Object(user_id))
            await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as error:
            if error.code == DISCORD_CANNOT_DM:
                return False
            raise
        return True
