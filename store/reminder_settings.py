"""Changed reminder settings reach the memberships that already run.

A membership's next reminder (`memberships.remind_at`) is computed from its tier's
reminder days whenever its expiry changes. Rows written before an operator changed
those days would keep the old due time: a tier given reminders for the first time
would never remind its members, and a new, larger step would be missed. So the days
each tier's rows are scheduled with are recorded (`reminder_schedules`); the
reminder worker compares them with the configuration on every pass (one small read
when nothing changed) and reschedules the running memberships of a changed tier in
short batches, then records the new days. A tier never recorded (a new database or
tier, or one just migrated) is rescheduled the same way, and so is one that comes back
after it was taken out of the configuration (its record is dropped meanwhile).

Only `remind_at` is written, never `reminded_days`: which steps were sent stays as
the claims recorded it, so rescheduling can make a reminder due sooner or later but
never sends one twice. Each batch locks the tier's row and keeps its place there, so
two processes never reschedule one tier at the same moment, either may continue
what the other began, and a process stopped part-way is resumed by the next pass.
A batch never waits for a membership row locked by another transaction (it would
hold the batch's other rows meanwhile and could deadlock with a fulfilment): it
stops before that row, commits, and the row is taken up again by the next batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, literal, select, tuple_, update

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import memberships, reminder_schedules, shops
from store.db.sql import insert_ignore
from store.reminder_schedule import next_reminder_at

log = logging.getLogger(__name__)

#: Memberships rescheduled per transaction: short enough not to hold the loop or
#: the rows for long, large enough that 100,000 members take a few hundred batches.
BATCH = 500
#: Batches in a row that may find their first row locked before the pass gives up
#: (the next pass continues from the same place).
BLOCKED_TRIES = 20


def days_text(days: Sequence[int]) -> str:
    """The stored form of a tier's reminder days: "14,3", or "" for none."""
    return ",".join(str(day) for day in sorted(set(days), reverse=True))


@dataclass(frozen=True)
class _Step:
    rescheduled: int
    done: bool = False  # the tier is recorded with the wanted days
    blocked: bool = False  # the next row is locked by another transaction
    elsewhere: bool = False  # another process is rescheduling this tier right now


class ReminderSettings:
    """Brings every tier's running memberships onto the tier's configured days."""

    def __init__(self, ctx: StoreContext, *, batch: int = BATCH) -> None:
        self.ctx = ctx
        self.batch = batch
        # The file's tiers, for the shops that follow the file; a shop run from Discord
        # keeps the days it has (its rows are left alone here).
        self._tiers = ctx.shops.template.tiers

    async def apply(self) -> int:
        """Reschedule the tiers whose days changed; returns how many rows were rescheduled."""
        wanted = {tier: days_text(config.reminder_days) for tier, config in self._tiers.items()}

        async def load(conn: Conn) -> dict[str, tuple[str | None, str | None]]:
            rows = await conn.execute(
                select(
                    reminder_schedules.c.tier,
                    reminder_schedules.c.reminder_days,
                    reminder_schedules.c.pending_days,
                )
            )
            return {row.tier: (row.reminder_days, row.pending_days) for row in rows}

        recorded = await self.ctx.db.read(load)
        # A tier taken out of the configuration forgets its days: its rows stop being
        # scheduled meanwhile, so if it comes back they must all be rescheduled.
        gone = [tier for tier in recorded if tier not in wanted]
        if gone:
            await self.ctx.db.write(
                lambda conn: conn.execute(
                    reminder_schedules.delete().where(reminder_schedules.c.tier.in_(gone))
                )
            )
        # A rescheduling left pending (the settings went back before it finished) is
        # closed too, so that a later change starts from the first row again.
        changed = [tier for tier, days in wanted.items() if recorded.get(tier) != (days, None)]
        if not changed:
            return 0
        missing = [tier for tier in changed if tier not in recorded]
        if missing:
            await self.ctx.db.write(lambda conn: self._record_tiers(conn, missing))
        rescheduled = 0
        for tier in changed:
            rescheduled += await self._reschedule(tier, wanted[tier])
        return rescheduled

    async def _record_tiers(self, conn: Conn, tiers: list[str]) -> None:
        for tier in tiers:
            await insert_ignore(
                conn,
                reminder_schedules,
                {"tier": tier, "reminder_days": None, "updated_at": self.ctx.now()},
                conflict=["tier"],
            )

    async def _reschedule(self, tier: str, wanted: str) -> int:
        days = self._tiers[tier].reminder_days
        rescheduled = 0
        blocked = 0
        while True:
            step = await self.ctx.db.write(lambda conn: self._step(conn, tier, wanted, days))
            rescheduled += step.rescheduled
            if step.done:
                log.info("reminders of tier %s now follow days [%s]", tier, wanted)
                return rescheduled
            if step.elsewhere:
                return rescheduled
            blocked = blocked + 1 if step.blocked else 0
            if blocked >= BLOCKED_TRIES:
                log.info("rescheduling tier %s waits for a locked membership; next pass", tier)
                return rescheduled
            # Between batches the loop serves members (on SQLite a unit never yields).
            await asyncio.sleep(0.01 * blocked)

    async def _step(self, conn: Conn, tier: str, wanted: str, days: Sequence[int]) -> _Step:
        """One batch: the next memberships of the tier after the recorded place."""
        now = self.ctx.now()
        state = (
            await conn.execute(
                select(reminder_schedules)
                .where(reminder_schedules.c.tier == tier)
                .with_for_update(skip_locked=True)
            )
        ).first()
        if state is None:
            return _Step(0, elsewhere=True)
        if state.reminder_days == wanted:
            if state.pending_days is not None:
                await conn.execute(
                    update(reminder_schedules)
                    .where(reminder_schedules.c.tier == tier)
                    .values(pending_days=None, done_shop_id=None, done_member_id=None)
                )
            return _Step(0, done=True)
        after: tuple[int, int] | None = None
        if state.pending_days == wanted and state.done_shop_id is not None:
            after = (int(state.done_shop_id), int(state.done_member_id))

        # Only shops that follow the file: a shop run from Discord keeps its own days.
        managed = select(shops.c.id).where(
            shops.c.id == memberships.c.shop_id, shops.c.managed.is_(True)
        )
        running = (
            select(memberships.c.shop_id, memberships.c.member_id)
            .where(memberships.c.tier == tier)
            .where(~managed.exists())
            .where(memberships.c.permanent.is_(False))
            .where(memberships.c.expires_at > now)
            .order_by(memberships.c.shop_id, memberships.c.member_id)
            .limit(self.batch)
        )
        if after is not None:
            running = running.where(_key() > _at(after))
        keys = [(int(row.shop_id), int(row.member_id)) for row in await conn.execute(running)]
        rows: dict[tuple[int, int], Any] = {}
        if keys:
            locked = await conn.execute(
                select(
                    memberships.c.shop_id,
                    memberships.c.member_id,
                    memberships.c.expires_at,
                    memberships.c.permanent,
                    memberships.c.reminded_days,
                    memberships.c.remind_at,
                )
                .where(memberships.c.tier == tier)
                .where(_key() >= _at(keys[0]))
                .where(_key() <= _at(keys[-1]))
                .with_for_update(skip_locked=True)
            )
            rows = {(int(row.shop_id), int(row.member_id)): row for row in locked}
        done: list[tuple[int, int]] = []
        for key in keys:
            if key not in rows:
                break  # locked by another transaction: the next batch starts here
            done.append(key)
        if keys and not done:
            return _Step(0, blocked=True)

        updates: list[dict[str, Any]] = []
        for key in done:
            row = rows[key]
            due = _due(row.expires_at, bool(row.permanent), days, row.reminded_days, now)
            if due != row.remind_at:
                updates.append({"k_shop": key[0], "k_member": key[1], "v_remind_at": due})
        if updates:
            await conn.execute(_RESCHEDULE, [{"k_tier": tier, **u} for u in updates])

        finished = len(keys) < self.batch and len(done) == len(keys)
        last = done[-1] if done else (None, None)
        await conn.execute(
            update(reminder_schedules)
            .where(reminder_schedules.c.tier == tier)
            .values(
                reminder_days=wanted if finished else state.reminder_days,
                pending_days=None if finished else wanted,
                done_shop_id=None if finished else last[0],
                done_member_id=None if finished else last[1],
                updated_at=now,
            )
        )
        return _Step(len(done), done=finished)


def _due(
    expires_at: datetime | None,
    permanent: bool,
    days: Sequence[int],
    sent: int | None,
    now: datetime,
) -> datetime | None:
    """The row's due time under `days`, as a claim of the row would leave it."""
    if expires_at is None or expires_at <= now:
        return None
    return next_reminder_at(expires_at, permanent=permanent, reminder_days=days, sent_days=sent)


def _key() -> Any:
    return tuple_(memberships.c.shop_id, memberships.c.member_id)


def _at(key: tuple[int, int]) -> Any:
    return tuple_(literal(key[0], BigInteger()), literal(key[1], BigInteger()))


_RESCHEDULE = (
    update(memberships)
    .where(
        memberships.c.shop_id == bindparam("k_shop"),
        memberships.c.member_id == bindparam("k_member"),
        memberships.c.tier == bindparam("k_tier"),
    )
    .values(remind_at=bindparam("v_remind_at"))
)
