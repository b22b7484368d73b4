"""Storefront processes that take interactions over HTTP, offline.

Each process is built by `build_storefront` with ``interactions = "http"`` and a public
key the test generated; the harness signs every interaction with the matching private
key and posts it to the process's ``/interactions``, as Discord would. No process opens
a gateway session: each logs in over REST only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nacl.signing import SigningKey

from bot.runtime import Storefront, build_storefront
from bot.settings import Settings
from bot.testing import DiscordHarness, FakeDiscord, FakeGuild
from bot.testing.storefront import storefront_offline
from tests.bot.conftest import _free_port, make_settings, workers_settled
from tests.support import FakeClock


@dataclass
class WebProcess:
    front: Storefront
    harness: DiscordHarness
    url: str


def shop_guild(world: FakeDiscord) -> FakeGuild:
    """A guild with what `web_process` settings name: tier roles, moderators, audit."""
    guild = world.add_guild("Storefront Test")
    guild.add_role("Paid")
    guild.add_role("Premium")
    guild.add_role("Shop moderators")
    guild.add_text_channel("shop-audit")
    return guild


def http_settings(database_url: str, guild: FakeGuild, key: SigningKey, port: int) -> Settings:
    """Interactions over HTTP, verified with ``key``'s public half, for `shop_guild`."""
    paid, premium = guild.role("Paid"), guild.role("Premium")
    data = make_settings(
        database_url,
        port,
        moderator_role_ids=[guild.role("Shop moderators").id],
        audit_channel_id=guild.channel("shop-audit").id,
    ).model_dump(mode="python")
    data["memberships"]["paid"]["role_id"] = paid.id
    data["memberships"]["premium"]["role_id"] = premium.id
    data["discord"].update(
        token="offline-token",
        interactions="http",
        public_key=key.verify_key.encode().hex(),
    )
    return Settings(**data)


@asynccontextmanager
async def web_process(
    database_url: str,
    world: FakeDiscord,
    guild: FakeGuild,
    clock: FakeClock,
    key: SigningKey,
    *,
    gateway_events: bool = False,
) -> AsyncIterator[WebProcess]:
    """One `storefront run` with interactions over HTTP, on its own port; with
    ``gateway_events``, `storefront run --gateway-events` (also connected for guild events).

    The guild is one `shop_guild` made: the settings name its roles and channel.
    """
    port = _free_port()
    settings = http_settings(database_url, guild, key, port)
    front = build_storefront(settings, clock=clock, gateway_events=gateway_events)
    url = f"http://127.0.0.1:{port}"
    async with storefront_offline(
        front, world, interactions_url=f"{url}/interactions", signing_key=key
    ) as harness:
        await workers_settled(front)
        yield WebProcess(front, harness, url)


async def outbox_empty(*processes: WebProcess) -> None:
    """Deliver until no effect waits, whichever process's worker takes each one."""
    for _ in range(500):
        for process in processes:
            await process.front.bot.deliverer.deliver_pending()
        if await processes[0].front.shop.outbox.pending_count() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("effects were not delivered")
