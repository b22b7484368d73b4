"""The deployment's instance id: made once, shared by every process on one database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from store.db.engine import Conn, Database, create_engine
from store.db.schema import deployment
from store.deployment import Deployment
from store.errors import InvalidInput
from store.shop import Shop
from tests.support import FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio


async def _rows(shop: Shop) -> int:
    async def count(conn: Conn) -> int:
        return int((await conn.execute(select(func.count()).select_from(deployment))).scalar_one())

    return await shop.ctx.db.read(count)


async def test_first_use_creates_the_id_and_later_reads_find_it(shop: Shop) -> None:
    """A fresh database gets one id on first use; another reader gets the same one."""
    assert await _rows(shop) == 0
    first = await Deployment(shop.ctx).instance_id()
    again = await Deployment(shop.ctx).instance_id()
    assert first == again and len(first) >= 16
    assert await _rows(shop) == 1


async def test_processes_starting_together_agree_on_one_id(
    shop: Shop, database_url: str, clock: FakeClock
) -> None:
    """Eight processes (own engines) asking at once on a fresh database share one id."""
    databases = [Database(create_engine(database_url)) for _ in range(8)]
    try:
        shops = [Shop.build(db, sample_store(), sample_tiers(), clock=clock) for db in databases]
        ids = await asyncio.gather(*(Deployment(s.ctx).instance_id() for s in shops))
    finally:
        for db in databases:
            await db.dispose()
    assert len(set(ids)) == 1
    assert await _rows(shop) == 1
    assert await Deployment(shop.ctx).instance_id() == ids[0]


async def test_a_configured_id_is_used_and_nothing_is_written(shop: Shop) -> None:
    """An operator's instance id wins over the stored one."""
    assert await Deployment(shop.ctx, configured="staging-2").instance_id() == "staging-2"
    assert await _rows(shop) == 0


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "naïve", "a/b"])
async def test_a_configured_id_that_is_not_fit_for_metadata_is_refused(
    shop: Shop, bad: str
) -> None:
    """Ids go into gateway metadata and log lines: short, plain characters only."""
    with pytest.raises(InvalidInput, match="instance id"):
        Deployment(shop.ctx, configured=bad)
