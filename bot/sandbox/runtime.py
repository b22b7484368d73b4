"""Running the storefront with the sandbox in place of Discord.

The same assembly as production (`bot.runtime`: store, gateway, web app, workers),
logged in through the offline harness, with the sandbox page and API mounted on the
storefront's own web application. The sandbox runs on an `OffsetClock` (real time plus
however far the developer has skipped ahead), so a month's renewals and expiries can
be seen in a click. Two simulated guilds, each its own shop: the second guild's shop is
set up at start (`bot.sandbox.second_shop`) so the difference shows at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.app import StorefrontBot
from bot.runtime import Storefront, build_storefront
from bot.sandbox.api import SandboxApi
from bot.sandbox.second_shop import set_up_second_shop
from bot.sandbox.world import SandboxLayout, build_world, sandbox_settings
from bot.settings import Settings
from bot.testing import DiscordHarness
from bot.testing.storefront import storefront_offline
from store.clock import Clock, OffsetClock, utcnow


@dataclass
class RunningSandbox:
    bot: StorefrontBot
    harness: DiscordHarness
    api: SandboxApi
    layout: SandboxLayout
    url: str
    #: The running application, whose workers the sandbox runs when time skips ahead.
    front: Storefront
    #: The shop's and the gateways' clock: ``clock.advance`` (or POST /sandbox/api/clock).
    clock: OffsetClock


@asynccontextmanager
async def sandbox(settings: Settings, *, clock: Clock = utcnow) -> AsyncIterator[RunningSandbox]:
    """The whole application against the simulated guilds, until the block ends.

    ``clock`` is the time the sandbox starts from; skipping ahead adds to it.
    """
    world, layout = build_world(settings)
    sandbox_clock = OffsetClock(clock)
    front = build_storefront(sandbox_settings(settings, layout), clock=sandbox_clock)
    api = SandboxApi(layout, sandbox_clock)
    api.add_routes(front.web_app)
    async with storefront_offline(front, world, strict=False, keep_log=False) as harness:
        await set_up_second_shop(front.shop.shops, layout.second, settings.sandbox)
        api.attach(harness, front)
        yield RunningSandbox(
            bot=front.bot,
            harness=harness,
            api=api,
            layout=layout,
            url=f"{settings.web.public_url.rstrip('/')}/sandbox",
            front=front,
            clock=sandbox_clock,
        )


async def serve_sandbox(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """`storefront run` without a token: print where to look, then serve until stopped."""
    async with sandbox(settings) as running:
        print(
            "sandbox mode: no Discord token is set, so two simulated guilds stand in for "
            "Discord (set STOREFRONT_DISCORD__TOKEN to connect for real)",
            flush=True,
        )
        print(f"open {running.url}", flush=True)
        await (stop or asyncio.Event()).wait()
