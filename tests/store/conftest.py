from __future__ import annotations

import pytest

from store.db.engine import Database
from store.shop import Shop
from tests.support import FakeClock, sample_store, sample_tiers


@pytest.fixture
def shop(database: Database, clock: FakeClock) -> Shop:
    return Shop.build(database, sample_store(), sample_tiers(), clock=clock)
