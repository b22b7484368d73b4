"""The real storefront bot, offline: the harness stands in for Discord.

The storefront is built by `bot.runtime.build_storefront` from settings, on the test's
database (SQLite and PostgreSQL), with the fake gateway and the web application on a
loopback port.
"""

from __future__ import annotations

import asyncio
import socket
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.app import StorefrontBot
from bot.runtime import Storefront, build_storefront
from bot.settings import Settings, defaults_text
from bot.testing import DiscordHarness, FakeDiscord, FakeMember
from bot.testing.storefront import storefront_offline
from store.db.engine import Database
from tests.support import FakeClock


@dataclass
class Shopfront:
    harness: DiscordHarness
    world: FakeDiscord
    bot: StorefrontBot
    alice: FakeMember
    bob: FakeMember
    mod: FakeMember
    helper_bot: FakeMember
    paid_role: int
    premium_role: int
    mod_role: int
    audit_channel: int
    guild_id: int
    url: str
    http: aiohttp.ClientSession

    async def effects_delivered(self) -> None:
        """Wait until the outbox is empty (the effects worker runs in the background)."""
        outbox = self.bot.shop.outbox
        for _ in range(500):
            await self.bot.deliverer.deliver_pending()
            if await outbox.pending_count() == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("effects were not delivered")

    def dm_embeds(self, member: FakeMember) -> list[dict[str, Any]]:
        return [embed for message in self.world.dms(member.id) for embed in message.embeds]

    def audit_posts(self) -> list[dict[str, Any]]:
        return [
            embed
            for message in self.world.channel_messages(self.audit_channel)
            for embed in message.embeds
        ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def workers_settled(front: Storefront) -> None:
    """Wait for each worker's first pass (run at start), so its bookkeeping writes
    (reminder schedules, reconciliation) are done before a test snapshots the database."""
    async with asyncio.timeout(10):
        await asyncio.gather(*(worker.ran_once() for worker in front.workers))


def make_settings(database_url: str, port: int, **discord: Any) -> Settings:
    data = tomllib.loads(defaults_text())
    data["database"] = {"url": database_url, "lock_timeout_ms": 2000}
    data["web"] = {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    data["discord"] = {"cooldown_seconds": 0, **discord}
    data["payments"]["fake"] = {
        "webhook_secret": "test-secret",
        "retry_backoff_seconds": 0.01,
        "max_delivery_attempts": 3,
    }
    data["workers"] = {
        "outbox_seconds": 3600,
        "reconcile_seconds": 3600,
        "reminders_seconds": 3600,
        "expiry_seconds": 3600,
    }
    return Settings(**data)


ShopfrontFactory = Callable[..., Awaitable[Shopfront]]


@pytest_asyncio.fixture
async def shopfront(
    request: pytest.FixtureRequest, database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Shopfront]:
    """Parametrize indirectly with a dict to override [store] settings (locale, currency)."""
    store_overrides: dict[str, Any] = getattr(request, "param", None) or {}
    world = FakeDiscord()
    guild = world.add_guild("Storefront Test")
    paid = guild.add_role("Paid")
    premium = guild.add_role("Premium")
    mods = guild.add_role("Shop moderators")
    audit = guild.add_text_channel("shop-audit")
    alice = guild.add_member("alice")
    bob = guild.add_member("bob")
    mod = guild.add_member("mod", roles=[mods.id])
    helper_bot = guild.add_member("helperbot", bot=True)
    port = _free_port()
    data = make_settings(
        database_url, port, moderator_role_ids=[mods.id], audit_channel_id=audit.id
    ).model_dump(mode="python")
    data["memberships"]["paid"]["role_id"] = paid.id
    data["memberships"]["premium"]["role_id"] = premium.id
    data["discord"]["token"] = "offline-token"
    data["store"].update(store_overrides)
    settings = Settings(**data)
    front = build_storefront(settings, clock=clock)
    async with aiohttp.ClientSession() as http, storefront_offline(front, world) as harness:
        await workers_settled(front)
        yield Shopfront(
            harness=harness,
            world=world,
            bot=front.bot,
            alice=alice,
            bob=bob,
            mod=mod,
            helper_bot=helper_bot,
            paid_role=paid.id,
            premium_role=premium.id,
            mod_role=mods.id,
            audit_channel=audit.id,
            guild_id=guild.id,
            url=f"http://127.0.0.1:{port}",
            http=http,
        )
