"""The engine and units of work.

SQLite is the embedded default: WAL so readers never wait for the writer, foreign
keys on, a busy timeout for other processes, and transactions that say BEGIN
IMMEDIATE when they will write (a deferred transaction that upgrades to a writer
can fail with "database is locked" instead of waiting). Inside one process every
write runs on one writer thread, so writers queue instead of contending.
PostgreSQL relies on row locks (INSERT ... ON CONFLICT, SELECT ... FOR UPDATE) and
unique constraints, so several processes can share it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
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

LOCK_TIMEOUT_MS = 5000
_LOCK_TIMEOUT_OPTION = "storefront_lock_timeout_ms"

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
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "echo": echo,
        "execution_options": {_LOCK_TIMEOUT_OPTION: lock_timeout_ms},
    }
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"lock_timeout": str(lock_timeout_ms)}},
        )
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine, lock_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
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
    round trip from the event loop; on SQLite the whole unit already runs on the
    database thread, so `execute` returns without ever suspending.
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


class _ThreadConn(Conn):
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
    its connection: on SQLite it runs start to finish on a database thread.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._thread_engine: Engine | None = None
        self._writer: _DatabaseThread | None = None
        self._reader: _DatabaseThread | None = None
        if self.dialect == "sqlite":
            # One writer (BEGIN IMMEDIATE, so it never fails to upgrade a read lock)
            # and one reader, each with its own connection held for its lifetime.
            self._thread_engine = _sqlite_thread_engine(engine)
            self._writer = _DatabaseThread("store-writer", self._thread_engine, "IMMEDIATE")
            self._reader = _DatabaseThread("store-reader", self._thread_engine, "DEFERRED")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def write(self, work: Work[T]) -> T:
        """Run `work` in a transaction that may write."""
        return await self._run(self._writer, work)

    async def read(self, work: Work[T]) -> T:
        """Run `work` on a read-only snapshot; never blocks writers on SQLite (WAL)."""
        return await self._run(self._reader, work)

    async def _run(self, thread: _DatabaseThread | None, work: Work[T]) -> T:
        try:
            if thread is not None:
                return await thread.run(work)
            async with self.engine.connect() as connection, connection.begin():
                return await work(_ServerConn(connection))
        except (OperationalError, DBAPIError, OSError) as exc:
            if isinstance(exc, DBAPIError) and not _is_availability_error(exc):
                raise
            raise StoreUnavailable(
                "The shop's database is busy or unreachable right now. Please try again."
            ) from exc

    async def dispose(self) -> None:
        for thread in (self._writer, self._reader):
            if thread is not None:
                await thread.stop()
        if self._thread_engine is not None:
            self._thread_engine.dispose()
        await self.engine.dispose()


class _DatabaseThread:
    """One thread and one SQLite connection; each unit of work runs there in one hop.

    Through an async driver every statement costs several hand-offs between the
    event loop and the driver's thread; here a whole unit of work costs one. Units
    queue first come, first served, so the writer thread is also the one writer
    the process needs: no two transactions ever contend for SQLite's lock.
    """

    def __init__(self, name: str, engine: Engine, begin: str) -> None:
        self._name = name
        self._engine = engine
        self._begin = begin
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, work: Work[T]) -> T:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(work, future, loop))
        return await future

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _serve(self) -> None:
        connection: Connection | None = None
        try:
            while (job := self._jobs.get()) is not None:
                if connection is None or connection.invalidated:
                    connection = self._connect(connection)
                job.settle(*self._attempt(connection, job.work))
        finally:
            if connection is not None:
                connection.close()

    def _connect(self, stale: Connection | None) -> Connection:
        if stale is not None:
            stale.close()
        return self._engine.connect().execution_options(sqlite_begin=self._begin)

    @staticmethod
    def _attempt(connection: Connection, work: Work[Any]) -> tuple[Any, BaseException | None]:
        try:
            with connection.begin():
                return _complete(work(_ThreadConn(connection))), None
        except BaseException as exc:  # handed to the waiting task, raised there
            return None, exc


@dataclass(frozen=True)
class _Job:
    work: Work[Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop

    def settle(self, result: Any, error: BaseException | None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiting task was cancelled; the unit has run regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _complete(unit: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it awaits only a thread connection)."""
    try:
        unit.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    unit.close()
    raise RuntimeError("a unit of work awaited something other than its connection")


def _sqlite_thread_engine(engine: AsyncEngine) -> Engine:
    """The same database through the plain sqlite3 driver, for the database threads."""
    options = engine.sync_engine.get_execution_options()
    threads = sqlalchemy.create_engine(
        engine.url.set(drivername="sqlite"), poolclass=NullPool, echo=engine.echo
    )
    _configure_sqlite(threads, int(options.get(_LOCK_TIMEOUT_OPTION, LOCK_TIMEOUT_MS)))
    return threads


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
