"""Each interaction is handled by one process: the first to claim its id in the database.

Discord can deliver one interaction more than once: two processes logged in with the
same token each receive it over the gateway, and an HTTP delivery may be retried. A
claim is a unique insert made before the interaction touches anything else, so however
many processes receive it, exactly one goes on to change the store and answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import interaction_claims
from store.db.sql import insert_ignore

#: Claims deleted per unit of work when purging, so SQLite never holds the loop long.
PURGE_CHUNK = 1000


class InteractionClaims:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def claim(self, interaction_id: int) -> bool:
        """True when this call took the id; False when someone already had it.

        On PostgreSQL a concurrent claim of the same id waits for the other transaction
        and then loses quietly (ON CONFLICT DO NOTHING), never a unique-key error.
        """
        now = self.ctx.now()

        async def take(conn: Conn) -> bool:
            return await insert_ignore(
                conn,
                interaction_claims,
                {"interaction_id": interaction_id, "claimed_at": now},
                conflict=["interaction_id"],
            )

        return await self.ctx.db.write(take)

    async def purge(self, older_than: datetime) -> int:
        """Forget claims made before `older_than`, in bounded chunks; returns how many.

        A forgotten id could be handled again, so `older_than` must lie well beyond the
        15 minutes an interaction token lives (Discord delivers nothing older).
        """

        async def chunk(conn: Conn) -> int:
            oldest = (
                select(interaction_claims.c.interaction_id)
                .where(interaction_claims.c.claimed_at < older_than)
                .limit(PURGE_CHUNK)
            )
            result = await conn.execute(
                delete(interaction_claims).where(
                    interaction_claims.c.interaction_id.in_(oldest.scalar_subquery())
                )
            )
            return int(result.rowcount)

        total = 0
        while True:
            removed = await self.ctx.db.write(chunk)
            total += removed
            if removed < PURGE_CHUNK:
                return total
