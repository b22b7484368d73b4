"""Changed reminder days reach memberships that already run, once, from any process."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from store.config import TierConfig
from store.db.engine import Conn, Database, create_engine
from store.db.schema import memberships, reminder_schedules
from store.reminder_schedule import next_reminder_at
from store.reminder_settings import ReminderSettings
from store.shop import Shop
from tests.support import ALICE, GUILD, MOD, PAID_ROLE, PREMIUM_ROLE, FakeClock, sample_store

pytestmark = pytest.mark.asyncio

MEMBERS = 1_000


def _tiers(paid: list[int], premium: list[int] | None = None) -> dict[str, TierConfig]:
    return {
        "paid": TierConfig(role_id=PAID_ROLE, reminder_days=paid),
        "premium": TierConfig(role_id=PREMIUM_ROLE, reminder_days=premium or [7]),
    }


def _shop(database: Database, clock: FakeClock, paid: list[int], **kw: list[int]) -> Shop:
    return Shop.build(database, sample_store(), _tiers(paid, **kw), clock=clock)


@pytest_asyncio.fixture
async def other_process(database: Database, database_url: str) -> AsyncIterator[Database]:
    """A second connection pool on the same database, as another process has."""
    db = Database(create_engine(database_url))
    yield db
    await db.dispose()


async def _remind_at(database: Database, member_id: int, tier: str = "paid") -> datetime | None:
    async def read(conn: Conn) -> datetime | None:
        value: datetime | None = (
            await conn.execute(
                select(memberships.c.remind_at).where(
                    memberships.c.member_id == member_id, memberships.c.tier == tier
                )
            )
        ).scalar_one()
        return value

    return await database.read(read)


async def _schedules(database: Database) -> dict[str, tuple[Any, ...]]:
    async def read(conn: Conn) -> dict[str, tuple[Any, ...]]:
        rows = await conn.execute(select(reminder_schedules))
        return {
            row.tier: (row.reminder_days, row.pending_days, row.done_member_id, row.updated_at)
            for row in rows
        }

    return await database.read(read)


async def _members(database: Database, clock: FakeClock) -> list[dict[str, Any]]:
    """1,000 running Paid memberships written under a tier without reminders."""
    rows = [
        {
            "shop_id": GUILD + index % 3,
            "member_id": 10_000 + index,
            "tier": "paid",
            "expires_at": clock.now + timedelta(days=1) + index * timedelta(hours=1),
            "permanent": False,
            "reminded_days": None,
            "role_active": True,
            "updated_at": clock.now,
            "remind_at": None,
        }
        for index in range(MEMBERS)
    ]

    async def insert(conn: Conn) -> None:
        await conn.execute(memberships.insert(), rows)

    await database.write(insert)
    return rows


async def test_a_tier_given_reminders_reminds_its_running_members(
    database: Database, clock: FakeClock
) -> None:
    """Time granted while a tier had no reminders: once it has some, they are sent."""
    before = _shop(database, clock, paid=[])
    await before.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    assert await before.memberships.claim_reminders() == []
    after = _shop(database, clock, paid=[14, 3])
    assert await after.memberships.claim_reminders() == []
    assert await _remind_at(database, ALICE) == clock.now + timedelta(days=6)
    clock.advance(days=6)
    assert [r.days for r in await after.memberships.claim_reminders()] == [14]
    clock.advance(days=11)
    assert [r.days for r in await after.memberships.claim_reminders()] == [3]


async def test_a_new_larger_step_reaches_running_members(
    database: Database, clock: FakeClock
) -> None:
    """[7] becomes [14, 7]: a member with 20 days left gets the 14-day reminder too."""
    before = _shop(database, clock, paid=[7])
    await before.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    assert await before.memberships.claim_reminders() == []
    after = _shop(database, clock, paid=[14, 7])
    await after.memberships.claim_reminders()
    clock.advance(days=6)
    assert [r.days for r in await after.memberships.claim_reminders()] == [14]
    clock.advance(days=7)
    assert [r.days for r in await after.memberships.claim_reminders()] == [7]


async def test_a_step_added_below_the_one_sent_comes_after_it(
    database: Database, clock: FakeClock
) -> None:
    """14-day reminder sent, then [14] becomes [14, 3]: the 3-day one follows, once."""
    before = _shop(database, clock, paid=[14])
    await before.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=10)
    assert [r.days for r in await before.memberships.claim_reminders()] == [14]
    after = _shop(database, clock, paid=[14, 3])
    assert await after.memberships.claim_reminders() == []
    assert await _remind_at(database, ALICE) == clock.now + timedelta(days=7)
    clock.advance(days=7)
    assert [r.days for r in await after.memberships.claim_reminders()] == [3]
    assert await after.memberships.claim_reminders() == []


async def test_a_removed_step_moves_the_due_time_later(
    database: Database, clock: FakeClock
) -> None:
    """[14, 3] becomes [3]: the row is next due 3 days before expiry, not 14."""
    before = _shop(database, clock, paid=[14, 3])
    await before.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    await before.memberships.claim_reminders()
    after = _shop(database, clock, paid=[3])
    await after.memberships.claim_reminders()
    assert await _remind_at(database, ALICE) == clock.now + timedelta(days=17)


async def test_unchanged_settings_write_nothing(database: Database, clock: FakeClock) -> None:
    """Once applied, a pass with the same days reschedules no row and records nothing."""
    shop = _shop(database, clock, paid=[14, 3])
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    settings = ReminderSettings(shop.ctx)
    assert await settings.apply() == 1
    recorded = await _schedules(database)
    assert recorded["paid"][:3] == ("14,3", None, None)
    assert recorded["premium"][:3] == ("7", None, None)
    clock.advance(hours=1)
    assert await settings.apply() == 0
    assert await _schedules(database) == recorded


async def test_a_thousand_members_are_rescheduled_batch_by_batch(
    database: Database, clock: FakeClock
) -> None:
    """Every running member of the changed tier gets its due time under the new days."""
    rows = await _members(database, clock)
    shop = _shop(database, clock, paid=[14, 3])
    assert await ReminderSettings(shop.ctx, batch=64).apply() == MEMBERS
    for row in rows[::37]:
        expected = next_reminder_at(row["expires_at"], permanent=False, reminder_days=[14, 3])
        assert await _remind_at(database, row["member_id"]) == expected
    assert (await _schedules(database))["paid"][:3] == ("14,3", None, None)


async def test_two_processes_reschedule_at_once_and_remind_each_member_once(
    database: Database, other_process: Database, clock: FakeClock
) -> None:
    """Both processes pass at the same moment: the same due times, one reminder each."""
    rows = await _members(database, clock)
    shops = [_shop(db, clock, paid=[14, 3]) for db in (database, other_process)]
    for shop in shops:
        shop.memberships.reminder_settings.batch = 50
    start = clock.now
    sent = Counter[tuple[int, int]]()
    for _ in range(17):  # a pass a day for 16 days
        passes = await asyncio.gather(*(shop.memberships.claim_reminders() for shop in shops))
        sent.update((reminder.member_id, reminder.days) for batch in passes for reminder in batch)
        clock.advance(days=1)
    # The 14-day step reaches those ending after day 3 (sooner, the 3-day step is the one
    # open) and by day 30; the 3-day step those ending by day 19.
    expected = Counter[tuple[int, int]]()
    for row in rows:
        ends = row["expires_at"] - start
        if timedelta(days=3) < ends <= timedelta(days=30):
            expected[(row["member_id"], 14)] = 1
        if ends <= timedelta(days=19):
            expected[(row["member_id"], 3)] = 1
    assert sent == expected
    assert (await _schedules(database))["paid"][:3] == ("14,3", None, None)


async def test_a_membership_locked_by_another_transaction_is_waited_for(
    database: Database, other_process: Database, clock: FakeClock
) -> None:
    """A row a fulfilment holds is rescheduled once it is free, not skipped."""
    rows = await _members(database, clock)
    locked = rows[100]
    shop = _shop(database, clock, paid=[14, 3])
    release = asyncio.Event()

    async def hold() -> None:
        async with other_process.engine.begin() as conn:
            await conn.execute(
                update(memberships)
                .where(memberships.c.member_id == locked["member_id"])
                .values(updated_at=clock.now)
            )
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.1)
    asyncio.get_running_loop().call_later(0.3, release.set)
    assert await ReminderSettings(shop.ctx, batch=64).apply() == MEMBERS
    await holder
    expected = next_reminder_at(locked["expires_at"], permanent=False, reminder_days=[14, 3])
    assert await _remind_at(database, locked["member_id"]) == expected


async def _leave_rescheduling(
    database: Database, clock: FakeClock, *, applied: str, pending: str, after: tuple[int, int]
) -> None:
    """The tier's record as a process stopped part-way through a rescheduling leaves it."""

    async def write(conn: Conn) -> None:
        await conn.execute(
            reminder_schedules.insert().values(
                tier="paid",
                reminder_days=applied,
                pending_days=pending,
                done_shop_id=after[0],
                done_member_id=after[1],
                updated_at=clock.now,
            )
        )

    await database.write(write)


async def test_a_rescheduling_stopped_part_way_is_resumed_where_it_stopped(
    database: Database, clock: FakeClock
) -> None:
    """The next pass reschedules the rows after the recorded place, and only those."""
    rows = await _members(database, clock)
    keys = sorted((row["shop_id"], row["member_id"]) for row in rows)
    await _leave_rescheduling(database, clock, applied="", pending="14,3", after=keys[399])
    shop = _shop(database, clock, paid=[14, 3])
    assert await ReminderSettings(shop.ctx, batch=64).apply() == MEMBERS - 400
    by_member = {row["member_id"]: row for row in rows}
    assert await _remind_at(database, keys[399][1]) is None
    expires = by_member[keys[400][1]]["expires_at"]
    expected = next_reminder_at(expires, permanent=False, reminder_days=[14, 3])
    assert await _remind_at(database, keys[400][1]) == expected


async def test_a_rescheduling_abandoned_for_the_old_days_starts_over_next_time(
    database: Database, clock: FakeClock
) -> None:
    """Settings went back before a rescheduling ended: a later change redoes every row."""
    rows = await _members(database, clock)
    keys = sorted((row["shop_id"], row["member_id"]) for row in rows)
    await _leave_rescheduling(database, clock, applied="14,3", pending="7", after=keys[399])
    assert await ReminderSettings(_shop(database, clock, paid=[14, 3]).ctx).apply() == 0
    assert (await _schedules(database))["paid"][:3] == ("14,3", None, None)
    assert await ReminderSettings(_shop(database, clock, paid=[7]).ctx).apply() == MEMBERS


async def test_a_tier_taken_out_and_put_back_reminds_its_members_again(
    database: Database, clock: FakeClock
) -> None:
    """While Paid is out of the configuration its due rows are passed over; back, they
    are rescheduled and reminded."""
    first = _shop(database, clock, paid=[14, 3])
    await first.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    assert await first.memberships.claim_reminders() == []  # Paid's days are recorded
    clock.advance(days=7)
    premium_only = sample_store()
    premium_only = premium_only.model_copy(
        update={"items": [i for i in premium_only.items if i.kind_options().get("tier") != "paid"]}
    )
    without = Shop.build(database, premium_only, {"premium": _tiers([])["premium"]}, clock=clock)
    assert await without.memberships.claim_reminders() == []
    assert "paid" not in await _schedules(database)
    back = _shop(database, clock, paid=[14, 3])
    assert [r.days for r in await back.memberships.claim_reminders()] == [14]


async def test_a_shop_run_from_discord_keeps_its_own_days_when_the_file_changes(
    database: Database, clock: FakeClock
) -> None:
    """The file's Paid goes from [14, 3] to [7]: the guild following the file is
    rescheduled; the guild whose moderators took over its shop keeps 14 and 3."""
    other_guild = GUILD + 1
    first = _shop(database, clock, paid=[14, 3])
    await first.shops.change(other_guild, lambda p: p.model_copy(update={"name": "Own"}))
    await first.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", days=20)
    await first.grants.grant_time(other_guild, MOD, ALICE + 1, "paid", "r", days=20)
    assert await first.memberships.claim_reminders() == []  # Paid's days are recorded
    kept = await _remind_at(database, ALICE + 1)
    moved = await ReminderSettings(_shop(database, clock, paid=[7]).ctx).apply()
    assert moved == 1
    assert await _remind_at(database, ALICE + 1) == kept
