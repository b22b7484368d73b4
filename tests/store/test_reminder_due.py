"""Reminders are claimed by their stored due time: every member, each step once, on time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from store.config import TierConfig
from store.db.engine import Conn, Database
from store.db.schema import effects, memberships
from store.reminder_schedule import next_reminder_at
from store.shop import Shop
from tests.support import (
    ALICE,
    BOB,
    CAROL,
    GUILD,
    MOD,
    PAID_ROLE,
    PREMIUM_ROLE,
    FakeClock,
    sample_store,
)

pytestmark = pytest.mark.asyncio

TIERS = {
    "paid": TierConfig(role_id=PAID_ROLE, reminder_days=[14, 3]),
    "premium": TierConfig(role_id=PREMIUM_ROLE, reminder_days=[7]),
    "gold": TierConfig(role_id=None, reminder_days=[30, 7, 1]),
}
MEMBERS = 1_000
TICK = timedelta(hours=6)


@pytest.fixture
def shop(database: Database, clock: FakeClock) -> Shop:
    return Shop.build(database, sample_store(), TIERS, clock=clock)


async def _remind_at(shop: Shop, member_id: int, tier: str) -> datetime | None:
    async def read(conn: Conn) -> datetime | None:
        value: datetime | None = (
            await conn.execute(
                select(memberships.c.remind_at).where(
                    memberships.c.member_id == member_id, memberships.c.tier == tier
                )
            )
        ).scalar_one()
        return value

    return await shop.ctx.db.read(read)


def _population(start: datetime) -> list[dict[str, Any]]:
    """1,000 memberships in 50 expiry slots 12 h apart, all three tiers in every slot.

    Every fifth row is as the migration leaves an existing membership (due at once,
    to be scheduled by the worker); the others as the account book writes them.
    """
    tiers = sorted(TIERS)
    rows = []
    for index in range(MEMBERS):
        tier = tiers[index % len(tiers)]
        expires = start + timedelta(days=31) + (index % 50) * timedelta(hours=12)
        due = next_reminder_at(expires, permanent=False, reminder_days=TIERS[tier].reminder_days)
        rows.append(
            {
                "shop_id": GUILD,
                "member_id": 10_000 + index,
                "tier": tier,
                "expires_at": expires,
                "permanent": False,
                "reminded_days": None,
                "role_active": True,
                "updated_at": start,
                "remind_at": start if index % 5 == 0 else due,
            }
        )
    return rows


async def test_every_member_gets_each_reminder_once_and_on_time(
    shop: Shop, clock: FakeClock
) -> None:
    """1,000 memberships, three tiers: each due step is sent once, at the tick it opens."""
    start = clock.now
    rows = _population(start)

    async def insert(conn: Conn) -> None:
        await conn.execute(memberships.insert(), rows)

    await shop.ctx.db.write(insert)
    expected = sorted(
        (row["member_id"], row["tier"], days, row["expires_at"] - timedelta(days=days))
        for row in rows
        for days in TIERS[row["tier"]].reminder_days
    )

    sent: list[tuple[int, str, int, datetime]] = []
    largest_pass = 0
    while clock.now <= start + timedelta(days=57):
        batch = await shop.memberships.claim_reminders(limit=10)
        largest_pass = max(largest_pass, len(batch))
        sent += [(r.member_id, r.tier, r.days, clock.now) for r in batch]
        clock.advance(seconds=TICK.total_seconds())

    assert sorted(sent) == expected
    assert largest_pass > 10  # some passes needed several batches

    async def leftovers(conn: Conn) -> tuple[int, int]:
        scheduled = (
            await conn.execute(select(func.count()).where(memberships.c.remind_at.is_not(None)))
        ).scalar_one()
        stored = (
            await conn.execute(select(func.count()).where(effects.c.kind == "expiry_reminder"))
        ).scalar_one()
        return int(scheduled), int(stored)

    assert await shop.ctx.db.read(leftovers) == (0, len(expected))


async def test_a_batch_claims_the_soonest_due_and_the_next_batch_the_rest(
    shop: Shop, clock: FakeClock
) -> None:
    """Rows beyond one batch's limit are reached by the next batch, not skipped."""
    for offset, member in enumerate((ALICE, BOB, CAROL)):
        await shop.grants.grant_time(GUILD, MOD, member, "paid", "r", days=10 + offset)
    first, claimed = await shop.memberships.claim_reminder_batch(limit=2)
    assert claimed == 2
    assert [r.member_id for r in first] == [ALICE, BOB]  # due longest ago: least time
    second, claimed = await shop.memberships.claim_reminder_batch(limit=2)
    assert (claimed, [r.member_id for r in second]) == (1, [CAROL])
    assert await shop.memberships.claim_reminder_batch(limit=2) == ([], 0)


async def test_grant_schedules_the_first_reminder(shop: Shop, clock: FakeClock) -> None:
    """Time granted: due at expiry minus the tier's largest reminder step."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "gold", "r", days=40)
    assert await _remind_at(shop, ALICE, "gold") == clock.now + timedelta(days=10)


async def test_purchase_reschedules_from_the_new_expiry(shop: Shop, clock: FakeClock) -> None:
    """More time after a reminder: the reminders start again from the new expiry."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=10)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]
    assert await _remind_at(shop, ALICE, "paid") == clock.now + timedelta(days=7)
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=30)
    assert await _remind_at(shop, ALICE, "paid") == clock.now + timedelta(days=26)


async def test_revocation_moves_the_reminder_forward(shop: Shop, clock: FakeClock) -> None:
    """Time taken away: the next reminder is due earlier, and is sent then."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=40)
    await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", days=30)
    assert await _remind_at(shop, ALICE, "paid") == clock.now - timedelta(days=4)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]


async def test_revoking_all_time_sends_no_reminder(shop: Shop, clock: FakeClock) -> None:
    """A membership ended now is never reminded and leaves the due set."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=10)
    await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", all_time=True)
    assert await shop.memberships.claim_reminders() == []
    assert await _remind_at(shop, ALICE, "paid") is None


async def test_permanent_membership_has_no_reminder(shop: Shop, clock: FakeClock) -> None:
    """Permanent time never ends, so nothing is scheduled."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", permanent=True)
    assert await _remind_at(shop, ALICE, "paid") is None


async def test_membership_that_expired_unreminded_is_dropped(shop: Shop, clock: FakeClock) -> None:
    """A reminder missed until after expiry is not sent late; the row leaves the due set."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "premium", "r", days=2)
    clock.advance(days=3)
    assert await shop.memberships.claim_reminders() == []
    assert await _remind_at(shop, ALICE, "premium") is None


async def test_time_taken_back_after_a_reminder_does_not_repeat_it(
    shop: Shop, clock: FakeClock
) -> None:
    """14-day reminder sent, one day revoked: the 14-day step is not sent again."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=13)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]
    await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", days=1)
    assert await shop.memberships.claim_reminders() == []
    assert await _remind_at(shop, ALICE, "paid") == clock.now + timedelta(days=9)


async def test_time_taken_back_into_a_smaller_window_sends_that_step_once(
    shop: Shop, clock: FakeClock
) -> None:
    """Shortened past the 3-day mark after the 14-day reminder: the 3-day one, once."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=13)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]
    await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", days=11)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [3]
    await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", days=1)
    assert await shop.memberships.claim_reminders() == []
    assert await _remind_at(shop, ALICE, "paid") is None


async def test_time_added_after_a_reminder_reminds_again_for_the_new_expiry(
    shop: Shop, clock: FakeClock
) -> None:
    """Extended after the 14-day reminder: the 14-day step comes again for the new date."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=13)
    assert [r.days for r in await shop.memberships.claim_reminders()] == [14]
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=30)
    clock.advance(days=29)
    [reminder] = await shop.memberships.claim_reminders()
    assert (reminder.days, reminder.expires_at) == (
        14,
        clock.now + timedelta(days=14),
    )
