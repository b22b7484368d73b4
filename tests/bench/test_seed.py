"""The bench's bulk seeding writes rows the store reads, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench.seed import BenchDatabase, insert_rows
from store.db.engine import Database
from store.shop import Shop
from tests.support import ALICE, BOB, GUILD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio


def _bench_database(url: str) -> BenchDatabase:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        return BenchDatabase("sqlite", url, sqlite_path=Path(parsed.database))
    return BenchDatabase("postgres", url)


async def test_seeded_carts_are_read_by_the_store_which_carries_on_after_their_ids(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    shop = Shop.build(database, sample_store(), sample_tiers(), clock=clock)
    now = datetime.now(UTC)
    rows = {
        "carts": [(1, GUILD, ALICE, 1, now)],
        "cart_lines": [(1, 1, "paid-1m", 2, ALICE, False, None, None, now)],
    }
    await insert_rows(_bench_database(database_url), rows)
    seeded = await shop.carts.view(GUILD, ALICE)
    assert [(line.sku, line.quantity) for line in seeded.lines] == [("paid-1m", 2)]
    fresh = await shop.carts.add(GUILD, BOB, "paid-1m")
    assert [line.sku for line in fresh.lines] == ["paid-1m"]
