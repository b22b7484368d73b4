"""The engine and units of work.

SQLite is the embedded default: WAL so readers never wait for the writer, foreign
keys on, a busy timeout for other processes, and transactions that say BEGIN
IMMEDIATE when they will write (a deferred transaction that upgrades to a writer
can fail with "database is locked" instead of waiting). Inside one process writers
queue on an asyncio lock rather than spinning in SQLite's busy handler.
PostgreSQL relies on row locks (SELECT ... FOR UPDATE) and unique constraints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from store.errors import StoreError

LOCK_TIMEOUT_MS = 5000


class StoreUnavailable(StoreError):
    """The database could not be reached or stayed locked; nothing was written."""

    code = "unavailable"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
    echo: bool = False,
) -> AsyncEngine:
    """An async engine configured for the dialect; the caller owns and disposes it.

    `lock_timeout_ms` bounds how long a write waits for another writer's lock
    (SQLite's busy timeout, PostgreSQL's lock_timeout) before the caller is told
    to try again, instead of a member's interaction hanging.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"lock_timeout": str(lock_timeout_ms)}},
        )
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, lock_timeout_ms)
    return engine


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so we can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Hands out units of work: `write()` for changes, `read()` for queries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back on error."""
        if self._write_lock is None:
            async with self._transaction({}) as conn:
                yield conn
            return
        async with self._write_lock, self._transaction({"sqlite_begin": "IMMEDIATE"}) as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot; never blocks writers on SQLite (WAL)."""
        async with self._transaction({}) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, options: dict[str, Any]) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if options:
                    await conn.execution_options(**options)
                async with conn.begin():
                    yield conn
        except (OperationalError, DBAPIError, OSError) as exc:
            if isinstance(exc, DBAPIError) and not _is_availability_error(exc):
                raise
            raise StoreUnavailable(
                "The shop's database is busy or unreachable right now. Please try again."
            ) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _is_availability_error(exc: DBAPIError) -> bool:
    """Locked, busy or disconnected: worth a retry, unlike a constraint violation."""
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        marker in text
        for marker in (
            "database is locked",
            "busy",
            "lock timeout",
            "connection",
            "closed",
            "terminat",
        )
    )
