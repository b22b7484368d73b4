"""SQLite only: a unit of work that holds the event loop over 50 ms is logged by name.

Inline SQLite units run start to finish on the loop, so every interaction in the
process waits for a slow one; the warning names it so it can be found and chunked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from store.db.engine import Conn, Database, create_engine

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}"))
    try:
        yield database
    finally:
        await database.dispose()


async def slow_count(conn: Conn) -> int:
    time.sleep(0.06)  # noqa: ASYNC251 -- it must block: a statement over too many rows
    return int((await conn.execute(text("SELECT 1"))).scalar_one())


async def quick_count(conn: Conn) -> int:
    return int((await conn.execute(text("SELECT 1"))).scalar_one())


async def test_a_unit_over_50_ms_is_logged_with_its_name(
    sqlite: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="store.db"):
        assert await sqlite.read(slow_count) == 1
    [record] = [r for r in caplog.records if r.name == "store.db"]
    assert record.levelno == logging.WARNING
    assert "unit tests.store.test_slow_units.slow_count took" in record.getMessage()


async def test_a_quick_unit_logs_nothing(
    sqlite: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="store.db"):
        assert await sqlite.write(quick_count) == 1
    assert [r for r in caplog.records if r.name == "store.db"] == []
