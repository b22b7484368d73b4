"""The database locked or its connections cut mid-run: "try again", nothing half written,
and the bot recovers by itself once the database is back."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.db.engine import create_engine
from tests.bot.conftest import Shopfront
from tests.conftest import postgres_admin_url
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio
TRY_AGAIN = "The shop's database is busy or unreachable right now. Please try again."


def short_lock_wait(data: dict[str, Any]) -> None:
    data["database"]["lock_timeout_ms"] = 300


@pytest_asyncio.fixture
async def sqlite_front(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Shopfront]:
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    async with build_shopfront(url, FakeClock(), short_lock_wait) as shopfront:
        yield shopfront


async def _items(front: Shopfront) -> int:
    return (await front.bot.shop.carts.view(front.guild_id, front.alice.id)).item_count


async def test_sqlite_locked_by_another_process_asks_to_try_again(
    sqlite_front: Shopfront,
) -> None:
    """Another connection holds BEGIN EXCLUSIVE: refused clearly, nothing written; after
    it lets go, the same command works without a restart."""
    front = sqlite_front
    database = make_url(str(front.bot.database.engine.url)).database
    assert database is not None
    # In a thread: the bot's own start-up writes must be able to finish first.
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(other.execute, "BEGIN EXCLUSIVE")
        locked = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
        assert locked.ephemeral and locked.embed["title"] == "Can't do that"
        assert locked.embed["description"] == TRY_AGAIN
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert await _items(front) == 0
    again = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    assert again.embed["title"] == "Added to your cart"
    assert await _items(front) == 1


@pytest_asyncio.fixture
async def postgres_front(postgres_database: str) -> AsyncIterator[tuple[Shopfront, str]]:
    async with build_shopfront(postgres_database, FakeClock(), short_lock_wait) as shopfront:
        yield shopfront, postgres_database


async def _admin(statement: str) -> None:
    engine = create_engine(postgres_admin_url())
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_connections_cut_then_refused_then_back(
    postgres_front: tuple[Shopfront, str],
) -> None:
    """Every connection terminated: the pool reconnects by itself. Connections refused:
    "try again" and nothing written. Allowed again: the bot works without a restart."""
    front, url = postgres_front
    name = make_url(url).database
    await front.harness.slash(front.alice, "cart", "clear")
    assert await _items(front) == 0
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    await _admin(terminate)
    cut = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    assert cut.embed["title"] in ("Added to your cart", "Can't do that")
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await _admin(terminate)
        down = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-2m"})
        assert down.ephemeral and down.embed["description"] == TRY_AGAIN
    finally:
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    back = await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-2m"})
    assert back.embed["title"] == "Added to your cart"
    skus = [
        line.sku for line in (await front.bot.shop.carts.view(front.guild_id, front.alice.id)).lines
    ]
    assert skus.count("paid-2m") == 1  # the refused add wrote nothing
