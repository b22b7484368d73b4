"""Applying Alembic migrations; production paths never call create_all."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to run on an up-to-date database."""

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_read)


def head_revision() -> str | None:
    """The revision this version of the code expects."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class SchemaBehind(RuntimeError):
    """The database is not at the revision the code needs; an operator must migrate it."""


async def ensure_schema(engine: AsyncEngine, *, migrate: bool) -> str | None:
    """Migrate when allowed (SQLite is ours), else insist the operator already did.

    A shared PostgreSQL database is migrated once by `storefront db upgrade`, not by
    whichever process happens to start first.
    """
    if migrate:
        await upgrade(engine)
        return await current_revision(engine)
    revision = await current_revision(engine)
    head = head_revision()
    if revision != head:
        raise SchemaBehind(
            f"the database is at revision {revision or 'none (never migrated)'}, this "
            f"version needs {head}; run `storefront db upgrade` first"
        )
    return revision
