"""Queries for the membership workers: reminders, expiry, roles to restore.

Claims are made in the same transaction that writes the resulting effect to the
outbox, with SKIP LOCKED on PostgreSQL, so several processes running the workers
send each reminder once and remove each expired role once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Row, select, update
from sqlalchemy.util.typing import TupleAny

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import memberships
from store.effects import AddRole, Effect, ExpiryReminder, RemoveRole
from store.outbox import store_effects


class MembershipWorkers:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def claim_reminders(self, limit: int = 100) -> list[ExpiryReminder]:
        """Memberships inside a reminder window not yet reminded for that step."""
        now = self.ctx.now()
        horizon = max((max(t.reminder_days, default=0) for t in self.ctx.tiers.values()), default=0)
        if horizon == 0:
            return []

        async def claim(conn: Conn) -> list[ExpiryReminder]:
            claimed: list[ExpiryReminder] = []
            rows = (
                await conn.execute(
                    select(memberships)
                    .where(memberships.c.permanent.is_(False))
                    .where(memberships.c.expires_at > now)
                    .where(memberships.c.expires_at <= now + timedelta(days=horizon))
                    .order_by(memberships.c.expires_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                tier = self.ctx.tiers.get(row.tier)
                if tier is None:
                    continue
                left = row.expires_at - now
                due = [d for d in tier.reminder_days if left <= timedelta(days=d)]
                if not due:
                    continue
                step = min(due)
                if row.reminded_days is not None and row.reminded_days <= step:
                    continue
                await conn.execute(
                    update(memberships)
                    .where(
                        memberships.c.shop_id == row.shop_id,
                        memberships.c.member_id == row.member_id,
                        memberships.c.tier == row.tier,
                    )
                    .values(reminded_days=step)
                )
                reminder = ExpiryReminder(
                    member_id=int(row.member_id),
                    tier=row.tier,
                    expires_at=row.expires_at.isoformat(),
                    days=step,
                )
                await store_effects(
                    conn, [reminder], order_id=None, now=now, shop_id=int(row.shop_id)
                )
                claimed.append(reminder)
            return claimed

        return await self.ctx.db.write(claim)

    async def claim_expired(self, limit: int = 100) -> list[RemoveRole]:
        """Memberships that ran out and still hold their role: claim the removal once."""
        now = self.ctx.now()

        async def claim(conn: Conn) -> list[RemoveRole]:
            removed: list[RemoveRole] = []
            rows = (
                await conn.execute(
                    select(memberships)
                    .where(memberships.c.role_active.is_(True))
                    .where(memberships.c.permanent.is_(False))
                    .where(memberships.c.expires_at <= now)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                await conn.execute(
                    update(memberships)
                    .where(
                        memberships.c.shop_id == row.shop_id,
                        memberships.c.member_id == row.member_id,
                        memberships.c.tier == row.tier,
                    )
                    .values(role_active=False, updated_at=now)
                )
                tier = self.ctx.tiers.get(row.tier)
                if tier is None or tier.role_id is None:
                    continue
                effect = RemoveRole(
                    member_id=int(row.member_id), tier=row.tier, role_id=tier.role_id
                )
                await store_effects(
                    conn, [effect], order_id=None, now=now, shop_id=int(row.shop_id)
                )
                removed.append(effect)
            return removed

        return await self.ctx.db.write(claim)

    async def roles_due(self, shop_id: int, member_id: int | None = None) -> list[Effect]:
        """Roles members should hold now (at start-up, or when one rejoins)."""
        now = self.ctx.now()
        query = (
            select(memberships.c.member_id, memberships.c.tier)
            .where(memberships.c.shop_id == shop_id)
            .where(memberships.c.permanent.is_(True) | (memberships.c.expires_at > now))
        )
        if member_id is not None:
            query = query.where(memberships.c.member_id == member_id)

        async def load(conn: Conn) -> Sequence[Row[*TupleAny]]:
            return (await conn.execute(query)).all()

        rows = await self.ctx.db.read(load)
        effects: list[Effect] = []
        for row in rows:
            tier = self.ctx.tiers.get(row.tier)
            if tier is not None and tier.role_id is not None:
                effects.append(
                    AddRole(member_id=int(row.member_id), tier=row.tier, role_id=tier.role_id)
                )
        return effects
