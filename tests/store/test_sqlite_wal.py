"""SQLite only: the write-ahead log starts over as the shop keeps writing.

Units of work run on the event loop and checkpoints in a thread; a checkpoint that
only copied pages would let the WAL grow for as long as the bot runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from store.db.engine import Conn, Database, create_engine
from store.db.migrate import upgrade

pytestmark = pytest.mark.asyncio


async def test_the_wal_stays_small_through_thousands_of_writes(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    database = Database(engine)
    try:
        for member in range(3000):

            async def open_cart(conn: Conn, member: int = member) -> None:
                await conn.execute(
                    text(
                        "INSERT INTO carts (shop_id, member_id, version, updated_at) "
                        "VALUES (1, :member, 1, '2026-01-01 00:00:00')"
                    ),
                    {"member": member},
                )

            await database.write(open_cart)
            await asyncio.sleep(0)  # members' interactions come and go between writes
        wal = await asyncio.to_thread(Path(f"{path}-wal").stat)
        assert wal.st_size < 8_000_000  # about 8 KB a write: never restarted, 25 MB
        assert await database.read(_carts) == 3000
    finally:
        await database.dispose()


async def _carts(conn: Conn) -> int:
    return int((await conn.execute(text("SELECT COUNT(*) FROM carts"))).scalar_one())
