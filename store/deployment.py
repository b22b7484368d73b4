"""This deployment's instance id: who we are to a payment gateway shared with others.

Staging and production (or two bots) may share one gateway account, so each receives
the other's webhooks, and their order numbers collide. Every checkout is marked with
the instance id, and events marked with another one are not ours. All processes
sharing one database are one deployment, so the id lives in the database: generated
once, on first use, by whichever process gets there first.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import deployment
from store.db.sql import insert_ignore
from store.errors import InvalidInput

_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_instance_id(value: str) -> str:
    """An id fit for gateway metadata and log lines: short, no spaces, no markup."""
    if not _VALID.match(value):
        raise InvalidInput(
            f"An instance id is 1 to 64 letters, digits, '.', '_' or '-'; {value!r} is not one."
        )
    return value


class Deployment:
    """Reads (creating if absent) the instance id once per process, then remembers it.

    `configured` lets an operator name the instance instead, for a database restored
    from another deployment's backup, which would otherwise answer to that one's events.
    """

    def __init__(self, ctx: StoreContext, *, configured: str | None = None) -> None:
        self.ctx = ctx
        self._id = None if configured is None else check_instance_id(configured)

    async def instance_id(self) -> str:
        if self._id is None:
            self._id = await self.ctx.db.write(self._ensure)
        return self._id

    async def _ensure(self, conn: Conn) -> str:
        # Two processes starting together both insert; the unique key lets one win and
        # the other (on PostgreSQL, after waiting for it) reads the winner's id.
        await insert_ignore(
            conn,
            deployment,
            {"id": 1, "instance_id": secrets.token_hex(8), "created_at": self.ctx.now()},
            conflict=["id"],
        )
        found = (
            await conn.execute(select(deployment.c.instance_id).where(deployment.c.id == 1))
        ).scalar_one()
        return str(found)
