"""A fresh database per run: migrated by the store's own migrations, seeded in bulk.

Every member has an open cart with two lines and every fourth one some points, so
views, removals and checkouts touch real rows. Seeding goes around the store (plain
sqlite3 `executemany`, asyncpg `COPY`): it is set-up, not what is measured.
"""

from __future__ import annotations

import asyncio
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


#: Rows to seed: table name -> tuples in that table's `COLUMNS` order.
Rows = dict[str, list[tuple[Any, ...]]]


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
        yield "carts", (i + 1, SHOP_ID, mid, 1, now)
        for j in range(LINES_PER_CART):
            sku = SEED_SKUS[(i + j) % len(SEED_SKUS)]
            yield (
                "cart_lines",
                (i * LINES_PER_CART + j + 1, i + 1, sku, 1, mid, False, None, None, now),
            )
        if i % 4 == 0:
            yield "accounts", (SHOP_ID, mid, 500, 0, now)


def _split(members: int, now: datetime) -> Rows:
    tables: Rows = {"carts": [], "cart_lines": [], "accounts": []}
    for table, row in _rows(members, now):
        tables[table].append(row)
    return tables


#: The columns of each table the bench seeds, in the order its rows give them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "carts": ("id", "shop_id", "member_id", "version", "updated_at"),
    "cart_lines": (
        "id",
        "cart_id",
        "sku",
        "quantity",
        "recipient_id",
        "anonymous",
        "note",
        "from_order_id",
        "created_at",
    ),
    "accounts": ("shop_id", "member_id", "points", "points_reserved", "updated_at"),
    "memberships": (
        "shop_id",
        "member_id",
        "tier",
        "expires_at",
        "permanent",
        "reminded_days",
        "role_active",
        "updated_at",
        "remind_at",
    ),
}
#: Tables whose ids the rows give explicitly: their sequences must continue after them.
_IDENTITY = ("carts", "cart_lines")


async def insert_rows(database: BenchDatabase, rows: Rows) -> None:
    """Bulk-insert `rows` (table -> tuples in `COLUMNS` order), then ANALYZE.

    Set-up, not measured, so it goes around the store: plain sqlite3 `executemany` in
    a thread, asyncpg `COPY` on PostgreSQL. It may run beside a live bot (the workers
    phase), hence the sqlite3 timeout and one transaction per call.
    """
    if database.sqlite_path is not None:
        await asyncio.to_thread(_insert_sqlite, database.sqlite_path, rows)
    else:
        await _copy_postgres(database.dsn, rows)


def _sqlite_value(value: Any) -> Any:
    """Datetimes as the store writes them on SQLite (naive UTC text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert_sqlite(path: Path, rows: Rows) -> None:
    conn = sqlite3.connect(path, timeout=30)
    try:
        with conn:
            for table, records in rows.items():
                columns = COLUMNS[table]
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    [tuple(_sqlite_value(v) for v in record) for record in records],
                )
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def _copy_postgres(dsn: str, rows: Rows) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table, records in rows.items():
                await conn.copy_records_to_table(
                    table, records=records, columns=list(COLUMNS[table])
                )
            for table in _IDENTITY:
                if table in rows:
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
        database = BenchDatabase("sqlite", url, path)
        await insert_rows(database, _split(members, datetime.now(UTC)))
        try:
            yield database
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
        await insert_rows(database, _split(members, datetime.now(UTC)))
        yield database
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
