"""Worker queries: reminders before expiry, role removal at expiry, roles to restore."""

from __future__ import annotations

import pytest

from store.shop import Shop
from tests.support import ALICE, BOB, GUILD, MOD, PAID_ROLE, FakeClock

pytestmark = pytest.mark.asyncio


async def test_reminders_are_sent_once_per_step(shop: Shop, clock: FakeClock) -> None:
    """14 days before, then 3 days before, each once."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    assert await shop.memberships.claim_reminders() == []
    clock.advance(days=7)
    first = await shop.memberships.claim_reminders()
    assert [(r.member_id, r.days) for r in first] == [(ALICE, 14)]
    assert await shop.memberships.claim_reminders() == []
    clock.advance(days=11)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [3]
    assert await shop.memberships.claim_reminders() == []


async def test_new_time_resets_reminders(shop: Shop, clock: FakeClock) -> None:
    """After a renewal the next expiry gets its own reminders."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=10)
    assert len(await shop.memberships.claim_reminders()) == 1
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=1)
    assert len(await shop.memberships.claim_reminders()) == 1


async def test_expired_roles_are_claimed_once(shop: Shop, clock: FakeClock) -> None:
    """The removal is handed out once, then never again."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=1)
    assert await shop.memberships.claim_expired() == []
    clock.advance(days=1, seconds=1)
    removed = await shop.memberships.claim_expired()
    assert [(r.member_id, r.role_id) for r in removed] == [(ALICE, PAID_ROLE)]
    assert await shop.memberships.claim_expired() == []


async def test_roles_due_lists_active_and_permanent_members(shop: Shop, clock: FakeClock) -> None:
    """Start-up and rejoin restore exactly the roles that are paid for."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=5)
    await shop.grants.grant_time(GUILD, MOD, BOB, "paid", "r", permanent=True)
    await shop.grants.grant_time(GUILD, MOD, MOD, "premium", "r", days=1, allow_self=True)
    clock.advance(days=2)
    due = await shop.memberships.roles_due(GUILD)
    assert sorted(e.member_id for e in due) == sorted([ALICE, BOB])
    assert [e.member_id for e in await shop.memberships.roles_due(GUILD, ALICE)] == [ALICE]
