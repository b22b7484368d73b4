"""Small statement helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from store.db.engine import Conn


async def insert_ignore(
    conn: Conn, table: Table, values: dict[str, Any], *, conflict: list[str]
) -> bool:
    """Insert unless the unique key `conflict` exists; True when a row was written.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction and then does nothing, which is what makes event ids idempotent.
    """
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        result = await conn.execute(pg)
    else:
        lite = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        result = await conn.execute(lite)
    return bool(result.rowcount)
