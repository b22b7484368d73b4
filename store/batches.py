"""Batch work in bounded units, with a turn of the event loop between them.

On SQLite a unit of work runs start to finish on the event loop, so one statement
over every due row of a large shop would hold every member's interaction until it
ended. Batch jobs therefore take `limit` rows per unit; a run still reaches every
row by repeating the unit until one comes back short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def in_chunks(unit: Callable[[], Awaitable[int]], limit: int) -> int:
    """Await `unit` until it handles fewer than `limit` rows; returns the rows handled.

    `unit` returns how many rows it took (claimed or read, not necessarily how many
    results it produced): a full unit means more may be waiting. Between units the
    loop serves whatever else is ready (members' interactions) first.
    """
    total = 0
    while True:
        taken = await unit()
        total += taken
        if taken < limit:
            return total
        await asyncio.sleep(0)  # let the loop serve members between units
