"""Starting a bot (the real one or the floor) under the harness, and counting logged errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import discord

from bench.seed import BenchDatabase
from bench.shopfront import Guild, Panels, bench_settings, free_port
from bot.app import StorefrontBot
from bot.gc_tuning import restore_garbage_collector, tune_garbage_collector
from bot.runtime import build_storefront
from bot.testing import DiscordHarness, offline
from bot.testing.storefront import storefront_offline
from store.catalog import Catalog


class ErrorCounter(logging.Handler):
    """Counts ERROR records from discord.py and the bot (they swallow handler exceptions)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{record.name}: {record.getMessage()}"


@asynccontextmanager
async def counting_errors() -> AsyncIterator[ErrorCounter]:
    counter = ErrorCounter()
    loggers = [logging.getLogger(name) for name in ("discord", "bot", "store", "payments")]
    for found in loggers:
        found.addHandler(counter)
    try:
        yield counter
    finally:
        for found in loggers:
            found.removeHandler(counter)


@dataclass
class Running:
    harness: DiscordHarness
    guild: Guild
    panels: Panels
    url: str


@asynccontextmanager
async def real_bot(database: BenchDatabase) -> AsyncIterator[tuple[Running, StorefrontBot]]:
    """The shop as `storefront run` builds it, on the bench database, offline."""
    port = free_port()
    front = build_storefront(bench_settings(database.url, port))
    bot = front.bot
    guild = Guild()
    async with storefront_offline(
        front, guild.world, strict=False, keep_log=False, schema=False
    ) as harness:
        # The bot tunes its garbage collector when ready, and restores it when closed.
        panels = Panels(guild, bot.shop.template.catalog, bot.shop.template.locale)
        yield Running(harness, guild, panels, f"http://127.0.0.1:{port}"), bot


@asynccontextmanager
async def floor_bot(
    database: BenchDatabase, catalog: Catalog, client: discord.Client
) -> AsyncIterator[Running]:
    guild = Guild()
    async with offline(client, guild.world, strict=False, keep_log=False, schema=False) as harness:
        before = tune_garbage_collector()  # as the real bot does when it is ready
        try:
            yield Running(harness, guild, Panels(guild, catalog), "")
        finally:
            restore_garbage_collector(before)
