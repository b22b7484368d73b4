"""/shopadmin: moderator grants, revocations, look-ups, refunds and the panel.

Hidden from members by default permissions, and checked again on every call
against the configured moderator roles (or Manage Server from the member's roles),
never against permissions an interaction payload claims. Every action is posted to
the audit channel: who, what, whom, why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.catalog_admin import CatalogCommands
from bot.cogs.coupon_admin import CouponCommands
from bot.render import admin as render
from bot.render import report as report_render
from bot.render import views
from bot.replies import NO_MENTIONS, Refusal, Reply
from store.money import Money
from store.reports import DEFAULT_PERIOD, ReportPeriod
from store.shops import ShopDefinition

if TYPE_CHECKING:
    from bot.app import StorefrontBot

log = logging.getLogger("bot.admin")


class AdminCog(commands.Cog, name="ShopAdmin"):
    shopadmin = app_commands.Group(
        name="shopadmin",
        description="Shop moderation",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    points = app_commands.Group(
        name="points", description="Grant or revoke points", parent=shopadmin
    )
    time = app_commands.Group(
        name="time", description="Grant or revoke membership time", parent=shopadmin
    )

    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies
        self.may_grant_self = bot.settings.discord.moderators_may_grant_self
        self.shopadmin.add_command(CouponCommands(self))
        # The instance's copy of the group (discord.py copies class groups per cog in
        # Cog.__new__), so the subgroup is registered with the cog's commands.
        self.catalog = CatalogCommands(self)
        self.shopadmin.add_command(self.catalog)
        bot.router.route("catalog:pick", self.catalog.on_pick)

    # ---- points ------------------------------------------------------------

    @points.command(name="grant", description="Give a member points")
    @app_commands.describe(
        member="Who gets them", amount="How many points", reason="Why (recorded)"
    )
    async def points_grant(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        amount: app_commands.Range[int, 1, 10_000_000],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        await self._grant(
            interaction,
            lambda: self.shop.grants.grant_points(
                self._shop(interaction),
                interaction.user.id,
                member.id,
                amount,
                reason,
                allow_self=self.may_grant_self,
            ),
        )

    @points.command(name="revoke", description="Take points from a member")
    @app_commands.describe(member="From whom", amount="How many points", reason="Why (recorded)")
    async def points_revoke(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        amount: app_commands.Range[int, 1, 10_000_000],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        await self._grant(
            interaction,
            lambda: self.shop.grants.revoke_points(
                self._shop(interaction), interaction.user.id, member.id, amount, reason
            ),
        )

    # ---- time --------------------------------------------------------------

    @time.command(name="grant", description="Give a member membership time")
    @app_commands.describe(
        member="Who gets it",
        tier="Membership tier",
        reason="Why (recorded)",
        months="Calendar months",
        days="Days",
        permanent="Make it permanent",
    )
    async def time_grant(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        tier: str,
        reason: app_commands.Range[str, 1, 500],
        months: app_commands.Range[int, 0, 120] = 0,
        days: app_commands.Range[int, 0, 3660] = 0,
        permanent: bool = False,
    ) -> None:
        await self._grant(
            interaction,
            lambda: self.shop.grants.grant_time(
                self._shop(interaction),
                interaction.user.id,
                member.id,
                tier,
                reason,
                months=months,
                days=days,
                permanent=permanent,
                allow_self=self.may_grant_self,
            ),
        )

    @time.command(name="revoke", description="Take membership time from a member")
    @app_commands.describe(
        member="From whom",
        tier="Membership tier",
        reason="Why (recorded)",
        days="Days to take (leave out with everything = true)",
        everything="End the membership now",
    )
    async def time_revoke(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        tier: str,
        reason: app_commands.Range[str, 1, 500],
        days: app_commands.Range[int, 0, 3660] = 0,
        everything: bool = False,
    ) -> None:
        await self._grant(
            interaction,
            lambda: self.shop.grants.revoke_time(
                self._shop(interaction),
                interaction.user.id,
                member.id,
                tier,
                reason,
                days=days,
                all_time=everything,
            ),
        )

    # ---- look-ups, refunds, panel -------------------------------------------

    @shopadmin.command(name="account", description="A member's account and ledger")
    async def account(self, interaction: discord.Interaction[Any], member: discord.Member) -> None:
        async def show() -> Reply:
            await self._require_moderator(interaction)
            shop_id = self._shop(interaction)
            account = await self.shop.accounts.account(shop_id, member.id, recent=0)
            ledger = await self.shop.accounts.ledger(shop_id, member.id, limit=12)
            orders = await self.shop.orders.recent(shop_id, member.id, limit=10)
            return Reply(
                render.member_account_embed(
                    member.id, account, ledger, orders, locale=await self._locale(interaction)
                )
            )

        await self.replies.guard(interaction, show)

    @shopadmin.command(name="order", description="Look up an order")
    async def order(
        self, interaction: discord.Interaction[Any], order_id: app_commands.Range[int, 1]
    ) -> None:
        async def show() -> Reply:
            await self._require_moderator(interaction)
            found = await self.shop.orders.get(self._shop(interaction), order_id)
            return Reply(render.order_embed(found, locale=await self._locale(interaction)))

        await self.replies.guard(interaction, show)

    @shopadmin.command(name="refund", description="Refund an order through its payment gateway")
    @app_commands.describe(
        order_id="The order", reason="Why (recorded)", amount="Minor units; leave out for all"
    )
    async def refund(
        self,
        interaction: discord.Interaction[Any],
        order_id: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 500],
        amount: app_commands.Range[int, 1] | None = None,
    ) -> None:
        async def refund() -> Reply:
            await self._require_moderator(interaction)
            # The store says whether this order's money can be refunded now, and why not.
            found = await self.shop.orders.refundable(self._shop(interaction), order_id, amount)
            # Same order state and amount give the same key: a double press refunds once.
            key = f"{amount or 'all'}-{found.refunded.amount}"
            await self.bot.flow.refund(found, amount, key)
            share = (
                "all"
                if amount is None
                else Money(amount, found.cash_due.currency).format(await self._locale(interaction))
            )
            what = f"refund of order #{order_id} ({share}) requested"
            await self._audit(interaction, what, found.buyer_id, reason)
            return Reply(
                render.done_embed(
                    f"Refund requested for order #{order_id}. What it granted is taken back "
                    "when the gateway confirms the refund."
                )
            )

        await self.replies.guard(interaction, refund, defer=True)

    @shopadmin.command(name="review", description="Orders waiting for a moderator")
    async def review(self, interaction: discord.Interaction[Any]) -> None:
        async def show() -> Reply:
            await self._require_moderator(interaction)
            waiting = await self.shop.orders.needing_review(self._shop(interaction), limit=20)
            return Reply(render.review_embed(waiting, locale=await self._locale(interaction)))

        await self.replies.guard(interaction, show)

    @shopadmin.command(name="resolve", description="Resolve a held order: fulfil it or refund it")
    @app_commands.describe(
        order_id="The held order",
        action="fulfil: accept the payment as paid; refund: return it through the gateway",
        reason="Why (recorded)",
    )
    async def resolve(
        self,
        interaction: discord.Interaction[Any],
        order_id: app_commands.Range[int, 1],
        action: Literal["fulfil", "refund"],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        async def resolve() -> Reply:
            await self._require_moderator(interaction)
            shop_id = self._shop(interaction)
            if action == "fulfil":
                order = await self.shop.fulfilment.resolve_paid(
                    shop_id, order_id, interaction.user.id, allow_self=self.may_grant_self
                )
                await self._audit(
                    interaction,
                    f"resolved held order #{order_id}: fulfilled as paid",
                    order.buyer_id,
                    reason,
                )
                await self.bot.kick_effects()
                return Reply(render.done_embed(f"Order #{order_id} is fulfilled."))
            order = await self.shop.orders.held_refundable(shop_id, order_id)
            await self.bot.flow.refund(order, None, "resolve")
            await self._audit(
                interaction,
                f"resolved held order #{order_id}: refund requested",
                order.buyer_id,
                reason,
            )
            return Reply(
                render.done_embed(
                    f"Refund requested for held order #{order_id}. It becomes refunded, and "
                    "the points it held are released, when the gateway confirms the refund."
                )
            )

        await self.replies.guard(interaction, resolve, defer=True)

    @shopadmin.command(name="panel", description="Post the public shop panel in this channel")
    async def panel(self, interaction: discord.Interaction[Any]) -> None:
        async def post() -> Reply:
            await self._require_moderator(interaction)
            channel = interaction.channel
            if not isinstance(channel, discord.abc.Messageable):
                raise Refusal("Use this in a text channel.")
            await channel.send(
                embed=render.panel_embed((await self._definition(interaction)).name),
                view=views.panel_view(),
                allowed_mentions=NO_MENTIONS,
            )
            await self._audit(interaction, "posted the shop panel", None, f"in <#{channel.id}>")
            return Reply(render.done_embed("The panel is posted."))

        await self.replies.guard(interaction, post)

    @shopadmin.command(name="report", description="Sales, refunds and points of a period")
    @app_commands.describe(period="Whole days in UTC, today included; 30 days when left out")
    @app_commands.choices(
        period=[
            app_commands.Choice(name=name, value=kind.value)
            for kind, name in report_render.PERIOD_NAMES.items()
        ]
    )
    async def report(
        self, interaction: discord.Interaction[Any], period: str = DEFAULT_PERIOD.value
    ) -> None:
        """The figures, the period's orders as report.csv and a chart as sales.png
        (deferred first: files cannot go in a first answer over HTTP)."""

        async def run() -> Reply:
            await self._require_moderator(interaction)  # before anything is read
            locale = await self._locale(interaction)
            found = await self.shop.reports.sales(self._shop(interaction), ReportPeriod(period))
            return Reply(
                report_render.report_embed(found, locale=locale),
                files=await report_render.report_files(found, locale=locale),
            )

        # Only a moderator's answer waits for the work; a refusal is answered at once.
        await self.replies.guard(interaction, run, defer=await self.is_moderator(interaction))

    # ---- the shop's setup and catalog forms --------------------------------------

    @shopadmin.command(name="setup", description="The shop's name, currency, roles and channels")
    @app_commands.describe(
        name="The shop's name",
        currency="ISO code, e.g. EUR (prices keep their minor units)",
        locale="How prices and numbers are written, e.g. de_DE",
        point_value="Minor units one point is worth",
        minimum_cash="Minor units a card payment keeps at least",
        audit_channel="Where every moderator action is posted",
        moderator_role="A role whose members may use /shopadmin",
        moderator_action="Add (default) or remove the moderator role",
        tier="A membership tier (a new name creates the tier)",
        tier_role="The role the tier gives",
        gateways="Ways of paying offered at checkout: names, comma-separated, or all",
    )
    async def shop_setup(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 80] | None = None,
        currency: app_commands.Range[str, 3, 3] | None = None,
        locale: app_commands.Range[str, 2, 20] | None = None,
        point_value: app_commands.Range[int, 1, 1_000_000] | None = None,
        minimum_cash: app_commands.Range[int, 0, 100_000_000] | None = None,
        audit_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
        moderator_action: Literal["add", "remove"] | None = None,
        tier: app_commands.Range[str, 1, 32] | None = None,
        tier_role: discord.Role | None = None,
        gateways: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        await self.catalog.run_setup(
            interaction,
            {
                "name": name,
                "currency": currency,
                "locale": locale,
                "point_value": point_value,
                "minimum_cash": minimum_cash,
                "audit_channel_id": None if audit_channel is None else audit_channel.id,
            },
            moderator_role=moderator_role,
            moderator_action=moderator_action,
            tier=tier,
            tier_role=tier_role,
            gateways=gateways,
        )

    @time_grant.autocomplete("tier")
    @time_revoke.autocomplete("tier")
    @shop_setup.autocomplete("tier")
    async def _tier_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The guild's shop's tiers holding what was typed."""
        if interaction.guild_id is None:
            return []
        tiers = (await self.shop.shops.get(interaction.guild_id)).tiers
        return [
            app_commands.Choice(name=tier, value=tier) for tier in tiers if current.lower() in tier
        ][:25]

    @commands.Cog.listener("on_interaction")
    async def _on_catalog_form(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            await self.catalog.on_submit(interaction)

    # ---- helpers -------------------------------------------------------------

    async def _grant(self, interaction: discord.Interaction[Any], call: Any) -> None:
        async def run() -> Reply:
            await self._require_moderator(interaction)
            result = await call()
            await self._audit(interaction, result.summary, result.member_id, result.reason)
            await self.bot.kick_effects()
            return Reply(render.done_embed(f"{result.summary} for <@{result.member_id}>."))

        await self.replies.guard(interaction, run, mutating=True)

    def _shop(self, interaction: discord.Interaction[Any]) -> int:
        assert interaction.guild_id is not None
        return interaction.guild_id

    async def _definition(self, interaction: discord.Interaction[Any]) -> ShopDefinition:
        return await self.shop.shops.get(self._shop(interaction))

    async def _locale(self, interaction: discord.Interaction[Any]) -> str:
        return (await self._definition(interaction)).locale

    async def _require_moderator(self, interaction: discord.Interaction[Any]) -> None:
        if not await self.is_moderator(interaction):
            raise Refusal("Only the shop's moderators can do that.")

    async def is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        """From the member's roles in the guild, not from what the payload claims; the
        moderator roles are the guild's shop's own."""
        member = interaction.user
        guild = interaction.guild
        if not isinstance(member, discord.Member) or guild is None:
            return False
        roles = set((await self.shop.shops.get(guild.id)).profile.moderator_role_ids)
        if not self.bot.holds_guild(guild.id):
            # No cache of this guild here (interactions over HTTP, no gateway): the
            # member's role ids and permissions as Discord signed them in the payload.
            if roles.intersection(member._roles):
                return True
            allowed = interaction.permissions
            return allowed.manage_guild or allowed.administrator
        if guild.owner_id == member.id:
            return True
        if roles.intersection(role.id for role in member.roles):
            return True
        return any(
            role.permissions.manage_guild or role.permissions.administrator for role in member.roles
        )

    async def _audit(
        self, interaction: discord.Interaction[Any], what: str, member_id: int | None, why: str
    ) -> None:
        if (await self._definition(interaction)).profile.audit_channel_id is None:
            log.info("audit: %s %s %s: %s", interaction.user.id, what, member_id, why)
            return
        embed = render.audit_embed(interaction.user.id, what, member_id, why)
        await self._post_audit(interaction, embed, f"{interaction.user.id} {what}: {why}")

    async def _post_audit(
        self,
        interaction: discord.Interaction[Any],
        embed: discord.Embed,
        summary: str,
        *,
        channel_id: int | None = None,
    ) -> None:
        """Post to the shop's audit channel (or `channel_id`); a Discord error is logged,
        never raised: the change it reports is already made."""
        try:
            await self.bot.deliverer.post_audit(
                embed, summary, self._shop(interaction), channel_id=channel_id
            )
        except discord.HTTPException as error:
            log.warning("could not post to the audit channel: %s", error)
