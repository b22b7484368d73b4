"""Every CLI test runs in its own empty directory with no STOREFRONT_* settings inherited,
so a developer's config.toml or environment cannot change the outcome, and no database
file lands in the repository."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.db.engine import create_engine

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("STOREFRONT_") and not name.startswith("STOREFRONT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def example_with(old: str, new: str) -> str:
    """The example configuration with one fragment replaced: everything else stays valid."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in config.example.toml"
    return text.replace(old, new, 1)


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A new, never migrated PostgreSQL database, dropped afterwards; unreachable fails."""
    admin = os.environ.get("STOREFRONT_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    name = f"storefront_cli_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {admin}: {exc}", pytrace=False)
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
