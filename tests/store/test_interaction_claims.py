"""An interaction id is claimed once; old claims are forgotten, recent ones kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from store.db.engine import Database, create_engine
from store.interaction_claims import PURGE_CHUNK
from store.shop import Shop
from tests.support import FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio

INTERACTION = 1_300_000_000_000_000_001


async def test_the_first_claim_wins(shop: Shop) -> None:
    """A fresh id is taken by the first claim."""
    assert await shop.interaction_claims.claim(INTERACTION) is True


async def test_a_second_claim_of_the_same_id_loses(shop: Shop) -> None:
    """Claiming an id already taken answers False, without an error."""
    await shop.interaction_claims.claim(INTERACTION)
    assert await shop.interaction_claims.claim(INTERACTION) is False


async def test_processes_claiming_together_have_one_winner(
    shop: Shop, database_url: str, clock: FakeClock
) -> None:
    """Four processes (own engines) claiming one id at once: exactly one wins."""
    databases = [Database(create_engine(database_url)) for _ in range(4)]
    try:
        shops = [Shop.build(db, sample_store(), sample_tiers(), clock=clock) for db in databases]
        won = await asyncio.gather(*(s.interaction_claims.claim(INTERACTION) for s in shops))
    finally:
        for db in databases:
            await db.dispose()
    assert sorted(won) == [False, False, False, True]


async def test_purge_forgets_old_claims_and_keeps_recent_ones(shop: Shop, clock: FakeClock) -> None:
    """Claims older than the cut-off go (the id could be claimed again); newer stay."""
    claims = shop.interaction_claims
    await claims.claim(INTERACTION)
    clock.advance(hours=2)
    await claims.claim(INTERACTION + 1)
    assert await claims.purge(clock.now - timedelta(hours=1)) == 1
    assert await claims.claim(INTERACTION) is True
    assert await claims.claim(INTERACTION + 1) is False


async def test_purge_removes_more_than_one_chunk(shop: Shop, clock: FakeClock) -> None:
    """A backlog larger than one purge chunk is removed completely."""
    claims = shop.interaction_claims
    count = PURGE_CHUNK + 5
    for offset in range(count):
        await claims.claim(INTERACTION + offset)
    clock.advance(hours=2)
    assert await claims.purge(clock.now - timedelta(hours=1)) == count
    assert await claims.claim(INTERACTION) is True


async def test_claiming_several_at_once_takes_only_the_free_ones(shop: Shop) -> None:
    """A batch of ids, one already taken: the others are won, that one is not."""
    claims = shop.interaction_claims
    await claims.claim(INTERACTION + 1)
    won = await claims.claim_many([INTERACTION, INTERACTION + 1, INTERACTION + 2])
    assert won == {INTERACTION, INTERACTION + 2}
