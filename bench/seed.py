"""A fresh database per run: migrated by the store's own migrations, seeded in bulk.

Every member has an open cart with two lines and every fourth one some points, so
views, removals and checkouts touch real rows. Seeding goes around the store (plain
sqlite3 `executemany`, asyncpg `COPY`): it is set-up, not what is measured.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.config import BenchConfig
from store.db.engine import create_engine
from store.db.migrate import upgrade

SHOP_ID = 900_000_000_000_000_001
MEMBER_BASE = 200_000_000_000_000_000
SEED_SKUS = ("paid-1m", "points-100", "paid-2m", "points-500", "premium-6m")
LINES_PER_CART = 2


def member_id(index: int) -> int:
    return MEMBER_BASE + index


@dataclass(frozen=True)
class BenchDatabase:
    backend: str
    url: str  # SQLAlchemy URL (async driver)
    sqlite_path: Path | None = None

    @property
    def dsn(self) -> str:
        """The plain driver's address (asyncpg takes postgresql://...)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)

    def seeded_lines(self, index: int) -> list[int]:
        first = index * LINES_PER_CART + 1
        return list(range(first, first + LINES_PER_CART))


def _rows(members: int, now: datetime) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for i in range(members):
        mid = member_id(i)
        yield "cart", (i + 1, SHOP_ID, mid, 1, now)
        for j in range(LINES_PER_CART):
            sku = SEED_SKUS[(i + j) % len(SEED_SKUS)]
            yield "line", (i * LINES_PER_CART + j + 1, i + 1, sku, 1, mid, False, None, None, now)
        if i % 4 == 0:
            yield "account", (SHOP_ID, mid, 500, 0, now)


def _split(members: int, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {"cart": [], "line": [], "account": []}
    for table, row in _rows(members, now):
        tables[table].append(row)
    return tables


def seed_sqlite(path: Path, members: int) -> None:
    stamp = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    tables = _split(members, stamp)  # type: ignore[arg-type]
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO carts (id, shop_id, member_id, version, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                tables["cart"],
            )
            conn.executemany(
                "INSERT INTO cart_lines (id, cart_id, sku, quantity, recipient_id, anonymous, "
                "note, from_order_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tables["line"],
            )
            conn.executemany(
                "INSERT INTO accounts (shop_id, member_id, points, points_reserved, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                tables["account"],
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def seed_postgres(dsn: str, members: int) -> None:
    tables = _split(members, datetime.now(UTC))
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "carts",
                records=tables["cart"],
                columns=["id", "shop_id", "member_id", "version", "updated_at"],
            )
            await conn.copy_records_to_table(
                "cart_lines",
                records=tables["line"],
                columns=[
                    "id",
                    "cart_id",
                    "sku",
                    "quantity",
                    "recipient_id",
                    "anonymous",
                    "note",
                    "from_order_id",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "accounts",
                records=tables["account"],
                columns=["shop_id", "member_id", "points", "points_reserved", "updated_at"],
            )
            # The identity sequences must continue after the explicit ids.
            for table in ("carts", "cart_lines"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def bench_database(
    config: BenchConfig, workdir: Path, members: int, name: str = "bench"
) -> AsyncIterator[BenchDatabase]:
    """A migrated, seeded database that is removed (dropped) afterwards."""
    if config.db == "sqlite":
        path = workdir / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await _migrate(url)
        seed_sqlite(path, members)
        try:
            yield BenchDatabase("sqlite", url, path)
        finally:
            _remove_sqlite(path)
        return
    db_name = f"storefront_{name}_{uuid.uuid4().hex[:10]}"
    admin = config.postgres_url
    await _admin(admin, f'CREATE DATABASE "{db_name}"')
    try:
        url = make_url(admin).set(database=db_name).render_as_string(hide_password=False)
        await _migrate(url)
        database = BenchDatabase("postgres", url)
        await seed_postgres(database.dsn, members)
        yield database
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
