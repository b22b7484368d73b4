"""Queries for the membership workers: reminders, expiry, roles to restore.

Claims are made in the same transaction that writes the resulting effect to the
outbox, with SKIP LOCKED on PostgreSQL, so several processes running the workers
send each reminder once and remove each expired role once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, exists, select, tuple_, update
from sqlalchemy.util.typing import TupleAny

from store.batches import in_chunks
from store.config import TierConfig
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import memberships, subscriptions
from store.effects import AddRole, Effect, ExpiryReminder, RemoveRole
from store.outbox import store_effects
from store.reminder_schedule import next_reminder_at, step_due
from store.reminder_settings import ReminderSettings
from store.subscriptions import SubscriptionStatus

#: Memberships claimed per unit of work by the reminder and expiry workers. Under load
#: the loop runs one batch per pass over every member's interaction in flight, so the
#: batch's length is what those interactions wait: 50 keeps it near 4 ms on SQLite
#: (bench phase `workers`: 100 gave a mixed p99 29% above the plain mixed one).
BATCH = 50
#: Memberships read per unit of work when listing the roles members should hold.
ROLES_CHUNK = 500


class MembershipWorkers:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx
        self.reminder_settings = ReminderSettings(ctx)

    async def claim_reminders(self, limit: int = BATCH) -> list[ExpiryReminder]:
        """Every reminder due now, claimed `limit` memberships at a time until none is left.

        First, running memberships of a tier whose reminder days changed are
        rescheduled from the new days (store.reminder_settings; one small read when
        nothing changed), so the claims below find them when they are due. Each
        batch is its own short transaction; a run of the worker reaches every due
        member however many there are, instead of the first `limit` of them.
        """
        await self.reminder_settings.apply()
        reminders: list[ExpiryReminder] = []

        async def batch() -> int:
            sent, claimed = await self.claim_reminder_batch(limit)
            reminders.extend(sent)
            return claimed

        await in_chunks(batch, limit)
        return reminders

    async def claim_reminder_batch(self, limit: int = BATCH) -> tuple[list[ExpiryReminder], int]:
        """One batch: the `limit` memberships due soonest; returns (reminders, rows claimed).

        Every claimed row leaves the due set: it gets the next step's due time, or
        None when no step is left (or the membership expired before it was reached).
        The step is decided from the tier's reminder days as configured now and the
        steps already sent, not from the stored time: a row claimed early (its time
        came from older settings not yet rescheduled, or the migration's backfill)
        only gets its due time recomputed, without a reminder.
        """
        now = self.ctx.now()

        async def claim(conn: Conn) -> tuple[list[ExpiryReminder], int]:
            rows = (
                await conn.execute(
                    select(
                        memberships.c.shop_id,
                        memberships.c.member_id,
                        memberships.c.tier,
                        memberships.c.expires_at,
                        memberships.c.permanent,
                        memberships.c.reminded_days,
                    )
                    .where(memberships.c.remind_at <= now)
                    .order_by(memberships.c.remind_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            sent: list[ExpiryReminder] = []
            by_shop: dict[int, list[ExpiryReminder]] = {}
            updates: list[dict[str, Any]] = []
            tiers = await self._tiers(conn, {int(row.shop_id) for row in rows})
            steps = []
            for row in rows:
                # The tier's reminder days as its shop configures them now.
                tier = tiers[int(row.shop_id)].get(row.tier)
                days = tier.reminder_days if tier is not None else []
                step = step_due(
                    row.expires_at,
                    now,
                    permanent=bool(row.permanent),
                    reminder_days=days,
                    sent_days=row.reminded_days,
                )
                steps.append((row, days, step))
            # Asked once for the batch: which of the reminded memberships renew.
            renewing = await _renewing(conn, [row for row, _, step in steps if step is not None])
            for row, days, step in steps:
                permanent = bool(row.permanent)
                reminded = row.reminded_days
                if step is not None:
                    plan = renewing.get((int(row.shop_id), int(row.member_id), str(row.tier)))
                    reminder = ExpiryReminder(
                        member_id=int(row.member_id),
                        tier=row.tier,
                        expires_at=row.expires_at,
                        days=step,
                        renews=plan is not None,
                        amount=plan.amount if plan is not None else None,
                        currency=plan.currency if plan is not None else None,
                    )
                    by_shop.setdefault(int(row.shop_id), []).append(reminder)
                    sent.append(reminder)
                    reminded = step
                expired = row.expires_at is None or row.expires_at <= now
                updates.append(
                    {
                        "k_shop": row.shop_id,
                        "k_member": row.member_id,
                        "k_tier": row.tier,
                        "v_reminded": reminded,
                        "v_remind_at": None
                        if expired
                        else next_reminder_at(
                            row.expires_at,
                            permanent=permanent,
                            reminder_days=days,
                            sent_days=reminded,
                        ),
                    }
                )
            if updates:
                await conn.execute(_RESCHEDULE, updates)
            for shop_id, pending in by_shop.items():
                await store_effects(conn, pending, order_id=None, now=now, shop_id=shop_id)
            return sent, len(rows)

        return await self.ctx.db.write(claim)

    async def _tiers(self, conn: Conn, shop_ids: set[int]) -> dict[int, Mapping[str, TierConfig]]:
        """Each shop's tiers, as that shop configures them now."""
        return {shop_id: (await self.ctx.shops.get(shop_id, conn)).tiers for shop_id in shop_ids}

    async def claim_expired(self, limit: int = BATCH) -> list[RemoveRole]:
        """Memberships that ran out and still hold their role: claim every removal once,
        `limit` memberships per short transaction, with a turn of the loop between them,
        until none is left (a run reaches every expired member, however many)."""
        removed: list[RemoveRole] = []

        async def batch() -> int:
            released, claimed = await self.claim_expired_batch(limit)
            removed.extend(released)
            return claimed

        await in_chunks(batch, limit)
        return removed

    async def claim_expired_batch(self, limit: int = BATCH) -> tuple[list[RemoveRole], int]:
        """One batch of `claim_expired`: (removals, memberships claimed)."""
        now = self.ctx.now()

        async def claim(conn: Conn) -> tuple[list[RemoveRole], int]:
            rows = (
                await conn.execute(
                    select(memberships.c.shop_id, memberships.c.member_id, memberships.c.tier)
                    .where(memberships.c.role_active.is_(True))
                    .where(memberships.c.permanent.is_(False))
                    .where(memberships.c.expires_at <= now)
                    .where(~_renewal_on_its_way(now))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return [], 0
            # One statement for the batch (executemany), not one round of it per row.
            await conn.execute(
                _RELEASE_ROLE,
                [
                    {"k_shop": r.shop_id, "k_member": r.member_id, "k_tier": r.tier, "v_now": now}
                    for r in rows
                ],
            )
            removed: list[RemoveRole] = []
            by_shop: dict[int, list[RemoveRole]] = {}
            tiers = await self._tiers(conn, {int(row.shop_id) for row in rows})
            for row in rows:
                tier = tiers[int(row.shop_id)].get(row.tier)
                if tier is None or tier.role_id is None:
                    continue
                effect = RemoveRole(
                    member_id=int(row.member_id), tier=row.tier, role_id=tier.role_id
                )
                by_shop.setdefault(int(row.shop_id), []).append(effect)
                removed.append(effect)
            for shop_id, shop_effects in by_shop.items():
                await store_effects(conn, shop_effects, order_id=None, now=now, shop_id=shop_id)
            return removed, len(rows)

        return await self.ctx.db.write(claim)

    async def roles_due(self, shop_id: int, member_id: int | None = None) -> list[Effect]:
        """Roles members should hold now (at start-up, or when one rejoins)."""
        effects: list[Effect] = []
        async for chunk in self.roles_due_chunks(shop_id, member_id):
            effects += chunk
        return effects

    async def roles_due_chunks(
        self, shop_id: int, member_id: int | None = None, chunk: int = ROLES_CHUNK
    ) -> AsyncIterator[list[Effect]]:
        """`roles_due` a few hundred memberships at a time (in member order), one short
        read each with a turn of the loop between: a guild with a hundred thousand paid
        members must not hold the event loop for one long query."""
        now = self.ctx.now()
        after: tuple[int, str] | None = None
        while True:
            query = (
                select(memberships.c.member_id, memberships.c.tier)
                .where(memberships.c.shop_id == shop_id)
                .where(memberships.c.permanent.is_(True) | (memberships.c.expires_at > now))
                .order_by(memberships.c.member_id, memberships.c.tier)
                .limit(chunk)
            )
            if member_id is not None:
                query = query.where(memberships.c.member_id == member_id)
            if after is not None:
                query = query.where(
                    tuple_(memberships.c.member_id, memberships.c.tier) > tuple_(*after)
                )

            async def load(conn: Conn, query: Any = query) -> Sequence[Row[*TupleAny]]:
                return (await conn.execute(query)).all()

            rows = await self.ctx.db.read(load)
            tiers = (await self.ctx.shops.get(shop_id)).tiers
            effects: list[Effect] = []
            for row in rows:
                tier = tiers.get(row.tier)
                if tier is not None and tier.role_id is not None:
                    effects.append(
                        AddRole(member_id=int(row.member_id), tier=row.tier, role_id=tier.role_id)
                    )
            if effects:
                yield effects
            if len(rows) < chunk:
                return
            after = (int(rows[-1].member_id), str(rows[-1].tier))
            await asyncio.sleep(0)  # let the loop serve members between chunks


# The expiry's batch: the role is no longer held (executemany, one row per key).
_RELEASE_ROLE = (
    update(memberships)
    .where(
        memberships.c.shop_id == bindparam("k_shop"),
        memberships.c.member_id == bindparam("k_member"),
        memberships.c.tier == bindparam("k_tier"),
    )
    .values(role_active=False, updated_at=bindparam("v_now"))
)

# One statement for a whole batch (executemany): the key and the next due time.
_RESCHEDULE = (
    update(memberships)
    .where(
        memberships.c.shop_id == bindparam("k_shop"),
        memberships.c.member_id == bindparam("k_member"),
        memberships.c.tier == bindparam("k_tier"),
    )
    .values(reminded_days=bindparam("v_reminded"), remind_at=bindparam("v_remind_at"))
)


@dataclass(frozen=True)
class _Renewal:
    amount: int
    currency: str


async def _renewing(
    conn: Conn, rows: Sequence[Row[*TupleAny]]
) -> dict[tuple[int, int, str], _Renewal]:
    """The memberships among `rows` an active subscription renews, with its price.

    Only an active one: a subscription set to cancel, past due or ended does not
    renew, so its member is reminded of the end as any other. Of two active ones for
    one tier (a month and a year bought apart) the latest speaks.
    """
    keys = {(int(r.shop_id), int(r.member_id), str(r.tier)) for r in rows}
    if not keys:
        return {}
    found = await conn.execute(
        select(
            subscriptions.c.shop_id,
            subscriptions.c.member_id,
            subscriptions.c.tier,
            subscriptions.c.amount,
            subscriptions.c.currency,
        )
        .where(subscriptions.c.status == SubscriptionStatus.ACTIVE.value)
        # By shop and member (the index; plain lists are cheap to send); the tier is
        # sorted out here, since a member has few subscriptions.
        .where(subscriptions.c.shop_id.in_(sorted({shop for shop, _, _ in keys})))
        .where(subscriptions.c.member_id.in_(sorted({member for _, member, _ in keys})))
        .order_by(subscriptions.c.id)
    )
    renewing = {}
    for r in found:
        key = (int(r.shop_id), int(r.member_id), str(r.tier))
        if key in keys:
            renewing[key] = _Renewal(int(r.amount), str(r.currency))
    return renewing


#: How long a tier an active subscription renews outlives its end while the gateway
#: bills the renewal (Stripe charges about an hour after the period ends): the role
#: is not taken away and given back every month.
RENEWAL_WAIT = timedelta(days=1)


def _renewal_on_its_way(now: datetime) -> ColumnElement[bool]:
    """An active subscription renews this membership, which ended less than
    `RENEWAL_WAIT` ago: its renewal (or its failure, and the grace) is coming."""
    return exists().where(
        subscriptions.c.shop_id == memberships.c.shop_id,
        subscriptions.c.member_id == memberships.c.member_id,
        subscriptions.c.tier == memberships.c.tier,
        subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
        memberships.c.expires_at > now - RENEWAL_WAIT,
    )
