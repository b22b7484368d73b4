"""The storefront bot: discord.py's client with the shop's cogs, gate and claims.

The bot translates Discord to service calls; it owns none of the lifecycles around it.
`bot.runtime` builds it with the store, the gateways and the web application, and
starts and stops those; ``setup_hook`` only loads the cogs and registers the one
persistent `Control` item, so the same bot serves a gateway connection or
interactions posted over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.controls import ComponentRouter, Control
from bot.cooldown import Cooldown
from bot.effects import EffectDeliverer
from bot.gc_tuning import restore_garbage_collector, tune_garbage_collector
from bot.guild_gate import GuildGate
from bot.interaction_claims import ClaimFirst
from bot.payflow import PaymentFlow
from bot.render.text import refusal_embed
from bot.replies import NO_MENTIONS, Refusal, Replies, Reply
from bot.settings import Settings
from bot.workers import Periodic
from payments.gateway import Gateway
from store.db.engine import Database
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
        flow: PaymentFlow,
        gateway_events: bool = True,
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
        self.gateway = flow.gateway
        self.flow = flow
        #: Whether this process connects to Discord's gateway and so receives guild
        #: events; a process serving interactions over HTTP alone does not.
        self.gateway_events = gateway_events
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
            holds_guild=self.holds_guild,
            ready=self.ready_to_act,
            manage_link=flow.renewals.manage_link,
        )
        #: The outbox worker; `bot.runtime` starts it with the others.
        self.effects = Periodic(
            "effects", settings.workers.outbox_seconds, self.deliverer.deliver_pending
        )
        self._collector_before: tuple[int, int, int] | None = None
        self._cogs_loaded = False
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

        await self.add_cog(ShopCog(self))
        await self.add_cog(CheckoutCog(self))
        await self.add_cog(AccountCog(self))
        await self.add_cog(AdminCog(self))
        self.add_dynamic_items(Control)
        self._cogs_loaded = True
        if not self.gateway_events:
            self._tune_collector()  # no READY will come: the start-up objects are here

    def accepting_interactions(self) -> bool:
        """Logged in with the commands loaded, and not closing: an interaction routed now
        reaches its command."""
        return self._cogs_loaded and self.user is not None and not self.is_closed()

    def ready_to_act(self) -> bool:
        """Logged in and, with a gateway connection, its guilds known (READY); never
        once closing, when its HTTP session is gone."""
        if self.is_closed():
            return False
        if self.gateway_events:
            return self.is_ready()
        return self.user is not None

    def holds_guild(self, guild_id: int) -> bool:
        """Whether Discord sends this guild's events here, so the cache knows it.

        A process serving interactions over HTTP alone holds none (what an interaction
        brings is cached as an unavailable guild); a sharded one holds its shards'.
        """
        if not self.gateway_events:
            return False
        count = self.shard_count
        if count is None or not isinstance(self, discord.AutoShardedClient):
            return True
        return (guild_id >> 22) % count in (self.shard_ids or range(count))

    async def kick_effects(self) -> None:
        """New effects wait in the outbox: deliver now rather than at the next tick."""
        self.effects.kick()

    async def on_ready(self) -> None:
        self._tune_collector()

    def _tune_collector(self) -> None:
        before = tune_garbage_collector()
        if self._collector_before is None:
            self._collector_before = before

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """No member loses paid access through drift: give back what is paid for."""
        if self.guild_gate.admits(guild.id):
            await self.deliverer.restore_roles(guild)

    async def on_member_join(self, member: discord.Member) -> None:
        if self.guild_gate.admits(member.guild.id):
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
        self._cogs_loaded = False
        for name in list(self.cogs):
            await self.remove_cog(name)
        await super().close()
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
