"""The engine and units of work.

SQLite is the embedded default: WAL so readers never wait for the writer, foreign
keys on, a busy timeout for other processes, and transactions that say BEGIN
IMMEDIATE when they will write (a deferred transaction that upgrades to a writer
can fail with "database is locked" instead of waiting). Units of work run inline
(see `_InlineSqlite`), so inside one process writers never contend.
PostgreSQL relies on row locks (INSERT ... ON CONFLICT, SELECT ... FOR UPDATE) and
unique constraints, so several processes can share it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple, cast, overload

import sqlalchemy
from sqlalchemy import Connection, CursorResult, Engine, Executable, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.typing import TupleAny

from store.errors import StoreError

log = logging.getLogger("store.db")
TRUNCATE_WAL = "PRAGMA wal_checkpoint(TRUNCATE)"  # busy flag, WAL pages, pages copied

LOCK_TIMEOUT_MS = 5000
#: An inline SQLite unit of work that holds the event loop longer than this is logged
#: with its name: every interaction in the process waited for it.
SLOW_UNIT_S = 0.050
_LOCK_TIMEOUT_OPTION = "storefront_lock_timeout_ms"
_CONNECTIONS_OPTION = "storefront_connections"

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")


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

    PostgreSQL connections are not pinged on checkout: a ping is a round trip on
    every unit of work. A connection found dead fails that one unit ("try again")
    and SQLAlchemy then invalidates the whole pool, so the next unit reconnects;
    recycling after 30 minutes keeps idle connections from going stale.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "echo": echo,
        "execution_options": {
            _LOCK_TIMEOUT_OPTION: lock_timeout_ms,
            _CONNECTIONS_OPTION: pool_size * 2,  # the pool and its overflow
        },
    }
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            connect_args={"server_settings": {"lock_timeout": str(lock_timeout_ms)}},
        )
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine, lock_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, *, autocheckpoint: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so we can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
            "PRAGMA synchronous=NORMAL",
            *([] if autocheckpoint else ["PRAGMA wal_autocheckpoint=0"]),
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Conn(ABC):
    """The connection a unit of work executes its statements on.

    Store code is written once against this: on PostgreSQL each statement is a
    round trip from the event loop; on SQLite `execute` returns without ever
    suspending, so a whole unit runs in one step of the loop.
    """

    dialect: Dialect

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*_Ts],
        parameters: _CoreAnyExecuteParams | None = None,
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> CursorResult[*TupleAny]: ...

    @abstractmethod
    async def execute(
        self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> CursorResult[*TupleAny]: ...


class _ServerConn(Conn):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(
        self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> CursorResult[*TupleAny]:
        return await self._connection.execute(statement, parameters)


class _InlineConn(Conn):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(
        self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> CursorResult[*TupleAny]:
        return self._connection.execute(statement, parameters)


Work = Callable[[Conn], Coroutine[Any, Any, T]]


class Database:
    """Runs units of work: `write(work)` for changes, `read(work)` for queries.

    A unit of work is `async def work(conn) -> result`; it commits when it returns
    and rolls back when it raises, so a refusal changes nothing. It may await only
    its connection: on SQLite it runs start to finish without suspending.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Units take turns for connections first come, first served: SQLAlchemy's
        # async pool lets a newcomer take a connection just given back while an
        # earlier waiter is being woken, and under load some units starved for
        # seconds (bench --db postgres: p99 2.8 s, max 6 s; with turns, see README).
        connections = engine.sync_engine.get_execution_options().get(_CONNECTIONS_OPTION, 20)
        self._turns = asyncio.Semaphore(int(connections))
        self._sqlite: _InlineSqlite | None = None
        if self.dialect == "sqlite":
            self._sqlite = _InlineSqlite(engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def write(self, work: Work[T]) -> T:
        """Run `work` in a transaction that may write."""
        if self._sqlite is not None:
            return await self._guarded(self._sqlite.write(work))
        return await self._guarded(self._on_server(work))

    async def read(self, work: Work[T]) -> T:
        """Run `work`, which only queries.

        On SQLite it sees one snapshot and never blocks the writer (WAL). On
        PostgreSQL each statement sees what was committed when it started, exactly
        as inside a READ COMMITTED transaction, but without BEGIN and COMMIT: two
        round trips fewer for the cart summary every reply shows.
        """
        if self._sqlite is not None:
            return await self._guarded(self._sqlite.read(work))
        return await self._guarded(self._on_server(work, transaction=False))

    async def _on_server(self, work: Work[T], *, transaction: bool = True) -> T:
        async with self._turns:
            if not transaction:
                async with self._autocommit.connect() as connection:
                    return await work(_ServerConn(connection))
            async with self.engine.connect() as connection, connection.begin():
                return await work(_ServerConn(connection))

    @staticmethod
    async def _guarded(running: Coroutine[Any, Any, T]) -> T:
        try:
            return await running
        except (OperationalError, DBAPIError, OSError) as exc:
            if isinstance(exc, DBAPIError) and not _is_availability_error(exc):
                raise
            raise StoreUnavailable(
                "The shop's database is busy or unreachable right now. Please try again."
            ) from exc

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()


class _InlineSqlite:
    """SQLite units of work, run start to finish on the event loop.

    Measured under load, handing work to a database thread costs more than the
    work: SQLite answers these statements in microseconds, while a thread that
    releases the GIL for every call waits for the busy event loop to give it back
    (612 interactions/s with a writer and a reader thread, 773/s inline). Inline,
    a unit is also atomic with respect to the loop, so the process has exactly one
    writer. What could stall the loop is kept off it: another process's write lock
    is waited for with async retries (busy_timeout is 0 here), and WAL checkpoints,
    which write and fsync the database file, run in a thread.
    """

    CHECKPOINT_EVERY = 500  # write units between checkpoints
    CHECKPOINT_RETRY = 50  # write units before trying again when the WAL was in use

    def __init__(self, engine: AsyncEngine) -> None:
        options = engine.sync_engine.get_execution_options()
        self._lock_timeout = int(options.get(_LOCK_TIMEOUT_OPTION, LOCK_TIMEOUT_MS)) / 1000
        self._engine = sqlalchemy.create_engine(
            engine.url.set(drivername="sqlite"), poolclass=NullPool, echo=engine.echo
        )
        _configure_sqlite(self._engine, busy_timeout_ms=0, autocheckpoint=False)
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._writes_to_checkpoint = self.CHECKPOINT_EVERY
        self._checkpoint: asyncio.Task[None] | None = None
        self._closed = False

    async def write(self, work: Work[T]) -> T:
        result = await self._run("IMMEDIATE", work)
        self._writes_to_checkpoint -= 1
        if self._writes_to_checkpoint <= 0:
            self._start_checkpoint()
        return result

    async def read(self, work: Work[T]) -> T:
        return await self._run("DEFERRED", work)

    async def _run(self, begin: str, work: Work[T]) -> T:
        deadline = time.monotonic() + self._lock_timeout
        pause = 0.001
        while True:
            connection = self._connection(begin)
            try:
                transaction = connection.begin()
            except OperationalError as exc:
                # Another process holds the write lock: wait without stalling the loop.
                # (No transaction was begun; the next begin() starts cleanly.)
                if not _is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                continue
            started = time.perf_counter()
            try:
                with transaction:
                    return _complete(work(_InlineConn(connection)))
            finally:
                took = time.perf_counter() - started
                if took > SLOW_UNIT_S:
                    log.warning("unit %s took %.0f ms", unit_name(work), took * 1000)

    def _connection(self, begin: str) -> Connection:
        """The writer's or the reader's connection, (re)opened when needed."""
        if self._closed:
            raise StoreUnavailable("The shop is shutting down. Please try again in a moment.")
        current = self._writer if begin == "IMMEDIATE" else self._reader
        if current is not None and not current.invalidated:
            return current
        if current is not None:
            current.close()
        fresh = self._engine.connect().execution_options(sqlite_begin=begin)
        if begin == "IMMEDIATE":
            self._writer = fresh
        else:
            self._reader = fresh
        return fresh

    def _start_checkpoint(self) -> None:
        if self._closed or (self._checkpoint is not None and not self._checkpoint.done()):
            return
        self._writes_to_checkpoint = self.CHECKPOINT_EVERY
        self._checkpoint = asyncio.ensure_future(asyncio.to_thread(self._checkpoint_now))
        self._checkpoint.add_done_callback(self._checkpointed)

    def _checkpoint_now(self) -> None:
        """Copy the WAL into the database file (and fsync it), off the loop."""
        with self._engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpointed(self, task: asyncio.Task[None]) -> None:
        """Start the WAL over, here on the loop, where none of our transactions is open.

        PASSIVE never waits, but the loop keeps writing meanwhile, so the WAL would
        never start over and grow for ever. The copying is done; what is left is a
        few pages and the truncation. Another process's transaction makes it busy:
        then try again soon.
        """
        if task.cancelled() or self._closed:
            return
        if (error := task.exception()) is not None:
            log.warning("SQLite checkpoint failed: %s", error)
        restarted = False
        if self._writer is not None and not self._writer.invalidated:
            raw = self._writer.connection.dbapi_connection
            try:
                restarted = raw is not None and not raw.execute(TRUNCATE_WAL).fetchone()[0]
            except sqlite3.Error as exc:
                log.warning("SQLite checkpoint failed: %s", exc)
        if not restarted:
            self._writes_to_checkpoint = min(self._writes_to_checkpoint, self.CHECKPOINT_RETRY)

    async def close(self) -> None:
        self._closed = True
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        for connection in (self._writer, self._reader):
            if connection is not None:
                connection.close()
        self._writer = self._reader = None
        self._engine.dispose()


def _complete(unit: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it awaits only an inline connection)."""
    try:
        unit.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    unit.close()
    raise RuntimeError("a unit of work awaited something other than its connection")


def unit_name(work: Callable[..., Any]) -> str:
    """A unit of work's name for the log: its function's qualified name, closures
    included (`Carts.add.<locals>.add`), so a slow one can be found in the code."""
    name = getattr(work, "__qualname__", None) or type(work).__qualname__
    module = getattr(work, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _is_busy(exc: OperationalError) -> bool:
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()


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
