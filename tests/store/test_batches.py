"""Batch work runs in bounded chunks and still reaches every row (issue 15 §4).

On SQLite each unit of work holds the event loop; these jobs cut theirs into small
units, and a run must still finish the whole job, not only its first chunk.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from store.batches import in_chunks
from store.effects import AddRole
from store.shop import Shop
from tests.support import GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio

MEMBERS = [500 + n for n in range(7)]


async def test_abandoned_carts_are_all_purged_chunk_by_chunk(shop: Shop, clock: FakeClock) -> None:
    for member in MEMBERS:
        await shop.carts.add(GUILD, member, "paid-1m")
    clock.advance(days=31)
    await shop.carts.add(GUILD, MOD, "paid-1m")
    removed = await shop.carts.purge_abandoned(clock() - timedelta(days=30), chunk=3)
    assert removed == len(MEMBERS)
    for member in MEMBERS:
        assert (await shop.carts.view(GUILD, member)).is_empty
    assert not (await shop.carts.view(GUILD, MOD)).is_empty


async def test_every_expired_role_is_claimed_in_one_run(shop: Shop, clock: FakeClock) -> None:
    for member in MEMBERS:
        await shop.grants.grant_time(GUILD, MOD, member, "paid", "r", days=1)
    clock.advance(days=1, seconds=1)
    removed = await shop.memberships.claim_expired(limit=3)
    assert sorted(r.member_id for r in removed) == MEMBERS
    assert await shop.memberships.claim_expired(limit=3) == []


async def test_roles_due_in_chunks_lists_every_member_once(shop: Shop, clock: FakeClock) -> None:
    for member in MEMBERS:
        await shop.grants.grant_time(GUILD, MOD, member, "paid", "r", days=5)
        await shop.grants.grant_time(GUILD, MOD, member, "premium", "r", days=5)
    chunks = [c async for c in shop.memberships.roles_due_chunks(GUILD, chunk=3)]
    assert len(chunks) > 1 and all(len(c) <= 3 for c in chunks)
    roles = [e for chunk in chunks for e in chunk if isinstance(e, AddRole)]
    seen = sorted((e.member_id, e.tier) for e in roles)
    assert seen == sorted((m, t) for m in MEMBERS for t in ("paid", "premium"))


async def test_in_chunks_repeats_the_unit_until_one_comes_back_short() -> None:
    sizes = iter([3, 3, 1, 3])
    units: list[int] = []

    async def unit() -> int:
        units.append(next(sizes))
        return units[-1]

    assert await in_chunks(unit, limit=3) == 7
    assert units == [3, 3, 1]


async def test_in_chunks_lets_other_tasks_run_between_units() -> None:
    seen: list[str] = []

    async def other() -> None:
        seen.append("other")

    async def unit() -> int:
        seen.append("unit")
        if len(seen) == 1:
            asyncio.get_running_loop().create_task(other())
        return 1 if seen.count("unit") < 2 else 0

    await in_chunks(unit, limit=1)
    assert seen == ["unit", "other", "unit"]
