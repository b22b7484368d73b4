"""Fixtures for the reliability and security tests.

`scale` holds every knob that makes a run short (``make test``) or heavy
(``STOREFRONT_RELIABILITY_FULL=1``). `build_shopfront` is the bot tests' shopfront
with the settings open to change (another gateway, a short lock wait).
"""

from __future__ import annotations

import logging
import os
import random
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.runtime import build_storefront
from bot.settings import Settings, defaults_text
from bot.testing import FakeDiscord
from bot.testing.storefront import storefront_offline
from tests.bot.conftest import Shopfront, _free_port, make_settings
from tests.support import FakeClock

FULL_ENV = "STOREFRONT_RELIABILITY_FULL"


class FailureLog(logging.Handler):
    """Collects "something went wrong (ref …)" reports from bot.replies."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class Scale:
    full: bool
    seed: int
    kill_rounds: int
    members: int
    multi_orders: int
    memberships: int
    fuzz_examples: int
    webhook_examples: int
    config_examples: int
    backup_writes: int


def _scale() -> Scale:
    full = os.environ.get(FULL_ENV, "") not in ("", "0")
    seed = int(os.environ.get("STOREFRONT_RELIABILITY_SEED", random.randrange(1 << 30)))
    if full:
        return Scale(True, seed, 25, 8, 40, 20, 600, 400, 300, 400)
    return Scale(False, seed, 4, 4, 8, 6, 60, 60, 40, 60)


@pytest.fixture(scope="session")
def scale() -> Scale:
    """Short by default; STOREFRONT_RELIABILITY_FULL=1 for the heavy run."""
    return _scale()


@pytest.fixture
def rng(scale: Scale, request: pytest.FixtureRequest) -> random.Random:
    """A per-test random source; the seed is printed so a failure can be replayed."""
    seed = scale.seed ^ hash(request.node.name) & 0xFFFF
    print(f"random seed {scale.seed} (STOREFRONT_RELIABILITY_SEED) → {seed}")
    return random.Random(seed)


def default_settings() -> Settings:
    """The shipped defaults (config.example.toml), as the subprocess apps start from."""
    return Settings(**tomllib.loads(defaults_text()))


SettingsChange = Callable[[dict[str, Any]], None]


@asynccontextmanager
async def build_shopfront(
    database_url: str, clock: FakeClock, change: SettingsChange | None = None
) -> AsyncIterator[Shopfront]:
    """The offline bot like tests/bot's `shopfront`, with `change` applied to the settings."""
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
    if change is not None:
        change(data)
    settings = Settings(**data)
    front = build_storefront(settings, clock=clock)
    async with aiohttp.ClientSession() as http, storefront_offline(front, world) as harness:
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
