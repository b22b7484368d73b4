"""Building and running the storefront bot: one place assembles everything.

`create_bot(settings)` makes the engine, the store, every enabled payment gateway,
the payment flow and the web application and passes them into `StorefrontBot`.
`setup_hook` prepares the database, loads the cogs, registers the one persistent
`Control` item, starts the gateways, the web server and the workers; `close()` stops
them in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import discord
from aiohttp import web
from discord import app_commands
from discord.ext import commands

from bot.controls import ComponentRouter, Control
from bot.cooldown import Cooldown
from bot.effects import EffectDeliverer
from bot.gc_tuning import restore_garbage_collector, tune_garbage_collector
from bot.guild_gate import GuildGate
from bot.interaction_claims import PURGE_SECONDS, ClaimFirst
from bot.payflow import PaymentFlow
from bot.render.text import refusal_embed
from bot.replies import NO_MENTIONS, Refusal, Replies, Reply
from bot.settings import Settings
from bot.web import create_web_app
from bot.workers import Periodic
from payments.gateway import Gateway, GatewayContext
from payments.registry import load_gateway
from store.clock import Clock, utcnow
from store.db.engine import Database, create_engine
from store.db.migrate import ensure_schema
from store.deployment import Deployment
from store.shop import Shop

log = logging.getLogger("bot.app")


#: Errors discord.py raises before a command runs, when the payload does not fit the code.
STALE_COMMAND_ERRORS = (
    app_commands.CommandNotFound,
    app_commands.CommandSignatureMismatch,
    app_commands.TransformerError,
)


class StorefrontTree(app_commands.CommandTree["StorefrontBot"]):
    """Answers what reaches no command (unknown, out of date, malformed), never silence."""

    async def on_error(
        self, interaction: discord.Interaction[StorefrontBot], error: app_commands.AppCommandError
    ) -> None:
        if interaction.response.is_done():
            log.error("command error after the answer was sent", exc_info=error)
            return
        if interaction.type is discord.InteractionType.autocomplete:
            log.warning("autocomplete failed: %s", error)
            await interaction.response.autocomplete([])
            return

        async def explain() -> Reply:
            if isinstance(error, STALE_COMMAND_ERRORS):
                raise Refusal(
                    "That command is out of date or its options are not valid. "
                    "Use /shop to start again."
                )
            raise error  # Replies logs it under a reference and says something went wrong

        await interaction.client.replies.guard(interaction, explain)


class StorefrontBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        shop: Shop,
        gateway: Gateway,
        flow: PaymentFlow,
        web_app: web.Application,
        serve: bool = True,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
            tree_cls=StorefrontTree,
            **client_options,
        )
        self.settings = settings
        self.database = database
        self.shop = shop
        #: The default gateway; `flow.gateways` holds every enabled one, by name.
        self.gateway = gateway
        self.flow = flow
        self.web_app = web_app
        self.serve = serve
        self.replies = Replies(shop, Cooldown(settings.discord.cooldown_seconds))
        self.router = ComponentRouter(self._unknown_component)
        # Installed before the gate, so the gate runs first: a foreign guild costs no write.
        self.claim_first = ClaimFirst(shop.interaction_claims)
        self.claim_first.install(self)
        self.guild_gate = GuildGate(settings.discord.guild_ids)
        self.guild_gate.install(self)
        self.deliverer = EffectDeliverer(
            self,
            shop,
            audit_channel_id=settings.discord.audit_channel_id,
            locale=settings.store.locale,
        )
        self.workers: list[Periodic] = []
        self._effects: Periodic | None = None
        self._runner: web.AppRunner | None = None
        self._collector_before: tuple[int, int, int] | None = None
        flow.on_effects(self.kick_effects)

    @property
    def gateways(self) -> Mapping[str, Gateway]:
        """Every enabled gateway, by name: the payment flow's own, never a copy of it."""
        return self.flow.gateways

    async def setup_hook(self) -> None:
        from bot.cogs.account import AccountCog
        from bot.cogs.admin import AdminCog
        from bot.cogs.checkout import CheckoutCog
        from bot.cogs.shop import ShopCog

        await ensure_schema(self.database.engine, migrate=self.database.is_sqlite)
        await self.add_cog(ShopCog(self))
        await self.add_cog(CheckoutCog(self))
        await self.add_cog(AccountCog(self))
        await self.add_cog(AdminCog(self))
        self.add_dynamic_items(Control)
        if not self.serve:
            return
        for gateway in self.gateways.values():
            await gateway.start()
        self._runner = web.AppRunner(self.web_app)
        await self._runner.setup()
        web_settings = self.settings.web
        await web.TCPSite(self._runner, web_settings.host, web_settings.port).start()
        self._start_workers()

    def _start_workers(self) -> None:
        timing = self.settings.workers
        shop = self.shop
        pending_age = timedelta(minutes=timing.pending_age_minutes)
        self._effects = Periodic("effects", timing.outbox_seconds, self.deliverer.deliver_pending)
        self.workers = [
            self._effects,
            Periodic(
                "reconcile", timing.reconcile_seconds, lambda: self.flow.reconcile(pending_age)
            ),
            Periodic(
                "reminders",
                timing.reminders_seconds,
                self._then_deliver(shop.memberships.claim_reminders),
            ),
            Periodic(
                "expiry", timing.expiry_seconds, self._then_deliver(shop.memberships.claim_expired)
            ),
            Periodic("interaction-claims", PURGE_SECONDS, self.claim_first.purge_old),
            Periodic(
                "abandoned-carts",
                timing.abandoned_carts_seconds,
                lambda: shop.carts.purge_abandoned(
                    shop.ctx.now() - timedelta(days=shop.ctx.config.abandoned_cart_days)
                ),
            ),
        ]
        for worker in self.workers:
            worker.start()

    def _then_deliver(
        self, job: Callable[[], Awaitable[list[Any]]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if await job():
                await self.kick_effects()

        return run

    async def kick_effects(self) -> None:
        """New effects wait in the outbox: deliver now rather than at the next tick."""
        if self._effects is not None:
            self._effects.kick()

    async def on_ready(self) -> None:
        before = tune_garbage_collector()
        if self._collector_before is None:
            self._collector_before = before

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """No member loses paid access through drift: give back what is paid for."""
        if self.serve and self.guild_gate.admits(guild.id):
            await self.deliverer.restore_roles(guild)

    async def on_member_join(self, member: discord.Member) -> None:
        if self.serve and self.guild_gate.admits(member.guild.id):
            await self.deliverer.restore_roles(member.guild, member.id)

    async def _unknown_component(
        self, interaction: discord.Interaction[Any], custom_id: str
    ) -> None:
        async def explain() -> Reply:
            return Reply(
                refusal_embed(
                    "That button or menu is out of date or not valid. Use /shop to start again."
                )
            )

        await self.replies.guard(interaction, explain)

    async def close(self) -> None:
        for worker in reversed(self.workers):
            await worker.stop()
        self.workers = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.serve:
            for gateway in reversed(list(self.gateways.values())):
                await gateway.close()
        for name in list(self.cogs):
            await self.remove_cog(name)
        await super().close()
        await self.database.dispose()
        if self._collector_before is not None:
            restore_garbage_collector(self._collector_before)
            self._collector_before = None


class ShardedStorefrontBot(StorefrontBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one connection per shard it runs.

    Several processes, each with its own `shard_ids` and one PostgreSQL database, split
    the guilds between them: Discord sends a guild's events and interactions only to the
    shard that holds it. The workers need nothing more: each job claims its rows in the
    database, so running them in every process still does each thing once.
    """


def create_bot(settings: Settings, *, clock: Clock = utcnow, serve: bool = True) -> StorefrontBot:
    """Assemble the application from settings; nothing touches the network yet."""
    database = Database(
        create_engine(
            settings.database.url,
            pool_size=settings.database.pool_size,
            lock_timeout_ms=settings.database.lock_timeout_ms,
        )
    )
    shop = Shop.build(database, settings.store, settings.memberships, clock=clock)
    context = GatewayContext(
        shop_name=settings.store.name,
        public_url=settings.web.public_url,
        environment=settings.environment,
        clock=clock,
    )
    gateways = [
        load_gateway(name, settings.payments.gateway_options(name), context)
        for name in settings.payments.enabled
    ]
    flow = PaymentFlow(
        shop,
        gateways,
        public_url=settings.web.public_url,
        deployment=Deployment(shop.ctx, configured=settings.payments.instance_id),
    )
    discord_settings = settings.discord
    bot_class: type[StorefrontBot] = StorefrontBot
    client_options: dict[str, Any] = {}
    if discord_settings.sharded:
        bot_class = ShardedStorefrontBot
        client_options = {
            "shard_count": discord_settings.shard_count,
            "shard_ids": discord_settings.shards,
        }
    return bot_class(
        settings=settings,
        database=database,
        shop=shop,
        gateway=flow.gateway,
        flow=flow,
        web_app=create_web_app(flow),
        serve=serve,
        **client_options,
    )
