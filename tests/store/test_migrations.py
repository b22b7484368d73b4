"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from store.db.engine import Database
from store.db.migrate import current_revision, head_revision, upgrade
from store.db.schema import metadata

pytestmark = pytest.mark.asyncio


async def test_migrated_database_matches_the_table_definitions(database: Database) -> None:
    """No difference between the migrated schema and store.db.schema."""

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrade_is_idempotent(database: Database) -> None:
    """Running the migrations again on an up-to-date database changes nothing."""
    before = await current_revision(database.engine)
    await upgrade(database.engine)
    assert await current_revision(database.engine) == before == head_revision()
