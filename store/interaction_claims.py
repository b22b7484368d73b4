"""Each interaction is handled by one process: the first to claim its id in the database.

Discord can deliver one interaction more than once: two processes logged in with the
same token each receive it over the gateway, and an HTTP delivery may be retried. A
claim is a unique insert made before the interaction touches anything else, so however
many processes receive it, exactly one goes on to change the store and answer.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from store.batches import in_chunks
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import interaction_claims

#: Claims deleted per unit of work when purging, so SQLite never holds the loop long.
PURGE_CHUNK = 1000


class InteractionClaims:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx
        # Built once: every interaction pays for a claim, and constructing the statement
        # cost as much as running it (its values come as parameters instead).
        dialect = postgresql if ctx.db.dialect == "postgresql" else sqlite
        self._insert: Insert = (
            dialect.insert(interaction_claims)
            .on_conflict_do_nothing(index_elements=[interaction_claims.c.interaction_id])
            .returning(interaction_claims.c.interaction_id)
        )

    async def claim(self, interaction_id: int) -> bool:
        """True when this call took the id; False when someone already had it."""
        return interaction_id in await self.claim_many([interaction_id])

    async def claim_many(self, interaction_ids: Collection[int]) -> set[int]:
        """The ids this call took, in one unit of work; the others were someone else's.

        One transaction for every interaction that arrived together: on SQLite the
        transaction, not the row, is what a claim costs. Ids go in ascending order, so
        two PostgreSQL processes claiming overlapping sets wait for each other in the
        same order and never deadlock; a concurrent claim of the same id waits for the
        other transaction and then loses quietly (ON CONFLICT DO NOTHING).
        """
        now = self.ctx.now()
        rows = [{"interaction_id": i, "claimed_at": now} for i in sorted(set(interaction_ids))]

        async def take(conn: Conn) -> set[int]:
            return set((await conn.execute(self._insert, rows)).scalars())

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

        return await in_chunks(lambda: self.ctx.db.write(chunk), PURGE_CHUNK)
