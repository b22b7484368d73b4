"""The whole storefront offline: `bot.runtime.serving` with the harness as Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.runtime import Storefront, serving
from bot.testing.harness import DiscordHarness
from bot.testing.state import FakeDiscord


@asynccontextmanager
async def storefront_offline(
    front: Storefront, world: FakeDiscord | None = None, **options: Any
) -> AsyncIterator[DiscordHarness]:
    """Start what `storefront run` starts around the bot, then log the bot in offline.

    The harness closes the bot first, then the web server, workers, gateways and
    database stop, as in production. A bot that takes interactions over HTTP and holds
    no gateway connection gets them signed and posted (pass ``interactions_url`` and
    ``signing_key``) and only logs in over REST.
    """
    harness = DiscordHarness(front.bot, world, connect=front.bot.gateway_events, **options)
    if harness.interactions_url is not None:
        front.web_app.middlewares.append(harness.http_middleware())
    async with serving(front), harness:
        yield harness
