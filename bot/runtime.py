"""The composition root: the one place the storefront is built, started and stopped.

`build_storefront(settings)` assembles the engine, the store, every enabled payment
gateway, the payment flow, the web application and the bot, and touches no network.
`serving(front)` then runs what lives around the bot, in an `AsyncExitStack` so each
part stops in reverse order whatever happens: the database schema, the gateways, the
web server and the workers. The Discord side is the caller's: `storefront run` logs in
and connects to the gateway, or, for interactions over HTTP, logs in over REST only;
the sandbox and the tests log in through the offline harness. So a process can serve
the web side without a gateway connection, and every way of running builds the same
application.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.app import ShardedStorefrontBot, StorefrontBot
from bot.http_interactions import InteractionEndpoint
from bot.interaction_claims import PURGE_SECONDS
from bot.payflow import PaymentFlow
from bot.settings import Settings
from bot.web import AccessLog, create_web_app
from bot.workers import Periodic
from payments.gateway import GatewayContext
from payments.registry import load_gateway
from store.clock import Clock, utcnow
from store.db.engine import Database, create_engine
from store.db.migrate import ensure_schema
from store.deployment import Deployment
from store.shop import Shop


@dataclass(eq=False)
class Storefront:
    """Everything one process runs, built once and handed to whoever starts it."""

    settings: Settings
    database: Database
    shop: Shop
    flow: PaymentFlow
    bot: StorefrontBot
    web_app: web.Application
    #: The background jobs, started by `serving` (empty until then).
    workers: list[Periodic] = field(default_factory=list)


def build_storefront(
    settings: Settings, *, clock: Clock = utcnow, gateway_events: bool | None = None
) -> Storefront:
    """Assemble the application from settings; nothing touches the network yet.

    ``gateway_events`` says whether this process will connect to Discord's gateway; by
    default it does when interactions come over the gateway, and not when they are
    posted over HTTP (``storefront run --gateway-events`` asks for both).
    """
    discord_settings = settings.discord
    over_http = discord_settings.interactions == "http"
    database = Database(
        create_engine(
            settings.database.url,
            pool_size=settings.database.pool_size,
            lock_timeout_ms=settings.database.lock_timeout_ms,
        )
    )
    shop = Shop.build(
        database,
        settings.store,
        settings.memberships,
        clock=clock,
        moderator_role_ids=discord_settings.moderator_role_ids,
        audit_channel_id=discord_settings.audit_channel_id,
    )
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
    bot_class: type[StorefrontBot] = StorefrontBot
    client_options: dict[str, Any] = {}
    if discord_settings.sharded:
        bot_class = ShardedStorefrontBot
        client_options = {
            "shard_count": discord_settings.shard_count,
            "shard_ids": discord_settings.shards,
        }
    bot = bot_class(
        settings=settings,
        database=database,
        shop=shop,
        flow=flow,
        gateway_events=not over_http if gateway_events is None else gateway_events,
        **client_options,
    )
    web_app = create_web_app(flow)
    if over_http:
        assert discord_settings.public_key is not None  # settings insist on it
        endpoint = InteractionEndpoint(
            bot, discord_settings.public_key, accepting=bot.accepting_interactions
        )
        endpoint.add_routes(web_app)
    return Storefront(settings, database, shop, flow, bot, web_app)


@asynccontextmanager
async def serving(front: Storefront) -> AsyncIterator[Storefront]:
    """Run the schema check, gateways, web server and workers until the block ends.

    On the way out the workers stop, then the web server (no new interactions or
    webhooks), then the bot, the gateways and the database, each even if an earlier
    one failed.
    """
    async with AsyncExitStack() as stack:
        stack.push_async_callback(front.database.dispose)
        await ensure_schema(front.database.engine, migrate=front.database.is_sqlite)
        for gateway in front.flow.gateways.values():
            await gateway.start()
            stack.push_async_callback(gateway.close)
        stack.push_async_callback(front.bot.close)
        runner = web.AppRunner(front.web_app, access_log_class=AccessLog)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        web_settings = front.settings.web
        await web.TCPSite(runner, web_settings.host, web_settings.port).start()
        front.workers = storefront_workers(front)
        for worker in front.workers:
            worker.start()
            stack.push_async_callback(worker.stop)
        yield front


def storefront_workers(front: Storefront) -> list[Periodic]:
    """The background jobs; each claims its rows, so every process may run them all."""
    timing = front.settings.workers
    shop = front.shop
    bot = front.bot
    pending_age = timedelta(minutes=timing.pending_age_minutes)

    async def then_deliver(found: list[Any]) -> None:
        if found:
            await bot.kick_effects()

    async def reminders() -> None:
        await then_deliver(await shop.memberships.claim_reminders())

    async def expiry() -> None:
        await then_deliver(await shop.memberships.claim_expired())

    async def abandoned_carts() -> None:
        days = shop.ctx.config.abandoned_cart_days
        await shop.carts.purge_abandoned(shop.ctx.now() - timedelta(days=days))

    return [
        bot.effects,
        Periodic("reconcile", timing.reconcile_seconds, lambda: front.flow.reconcile(pending_age)),
        Periodic("reminders", timing.reminders_seconds, reminders),
        Periodic("expiry", timing.expiry_seconds, expiry),
        Periodic("interaction-claims", PURGE_SECONDS, bot.claim_first.purge_old),
        Periodic("abandoned-carts", timing.abandoned_carts_seconds, abandoned_carts),
        Periodic("shops", timing.shops_seconds, shop.shops.refresh),
    ]
