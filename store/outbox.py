"""Delivering effects: claim with a lease, mark done, retry what failed.

A process leases a batch (FOR UPDATE SKIP LOCKED on PostgreSQL, so two processes
never take the same effect), delivers outside any transaction, then marks each
done. A crash leaves the lease to expire and another pass delivers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.util.typing import TupleAny

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import effects, orders
from store.effects import Effect, StoredEffect, effect_from_row

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


class Outbox:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def claim(self, limit: int = 50) -> list[StoredEffect]:
        now = self.ctx.now()

        async def lease(conn: Conn) -> Sequence[Row[*TupleAny]]:
            rows = (
                await conn.execute(
                    select(
                        effects.c.id,
                        effects.c.kind,
                        effects.c.member_id,
                        effects.c.payload,
                        effects.c.attempts,
                        effects.c.shop_id,
                    )
                    .where(effects.c.done_at.is_(None))
                    .where(effects.c.attempts < MAX_ATTEMPTS)
                    .where(or_(effects.c.leased_until.is_(None), effects.c.leased_until < now))
                    .order_by(effects.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return rows
            await conn.execute(
                update(effects)
                .where(effects.c.id.in_([r.id for r in rows]))
                .values(leased_until=now + LEASE, attempts=effects.c.attempts + 1)
            )
            return rows

        rows = await self.ctx.db.write(lease)
        return [
            StoredEffect(
                id=int(r.id),
                effect=effect_from_row(r.kind, int(r.member_id), dict(r.payload)),
                attempts=int(r.attempts) + 1,
                extra={"shop_id": int(r.shop_id)},
            )
            for r in rows
        ]

    async def done(self, effect_id: int, outcome: str = "delivered") -> None:
        """Record what happened (delivered, or e.g. 'dm closed'): it is not retried."""

        async def mark_done(conn: Conn) -> None:
            await conn.execute(
                update(effects)
                .where(and_(effects.c.id == effect_id, effects.c.done_at.is_(None)))
                .values(done_at=self.ctx.now(), outcome=outcome[:500], leased_until=None)
            )

        await self.ctx.db.write(mark_done)

    async def retry_later(self, effect_id: int, error: str, delay: timedelta) -> None:
        async def postpone(conn: Conn) -> None:
            await conn.execute(
                update(effects)
                .where(effects.c.id == effect_id)
                .values(leased_until=self.ctx.now() + delay, outcome=error[:500])
            )

        await self.ctx.db.write(postpone)

    async def pending_count(self) -> int:
        async def count(conn: Conn) -> int:
            rows = await conn.execute(select(effects.c.id).where(effects.c.done_at.is_(None)))
            return len(rows.all())

        return await self.ctx.db.read(count)


async def store_effects(
    conn: Conn,
    pending: Sequence[Effect],
    *,
    order_id: int | None,
    now: datetime,
    shop_id: int | None = None,
) -> None:
    """Write effects to the outbox in the caller's transaction, beside the change."""
    if not pending:
        return
    if shop_id is None and order_id is not None:
        shop_id = (
            await conn.execute(select(orders.c.shop_id).where(orders.c.id == order_id))
        ).scalar_one_or_none()
    await conn.execute(
        effects.insert(),
        [
            {
                "shop_id": shop_id or 0,
                "kind": effect.kind,
                "member_id": effect.member_id,
                "payload": effect.payload(),
                "order_id": order_id,
                "created_at": now,
                "attempts": 0,
            }
            for effect in pending
        ],
    )
