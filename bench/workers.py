"""The workers phase: the batch jobs over 100,000 rows while members shop.

After the warm-up, 100,000 rows of batch work are added to the running shop's
database: carts abandoned two months ago (a line each), memberships whose expiry
reminder is due, and memberships that ran out and still hold their role. Then the
measured mixed load starts and, at the same moment, every batch job the bot runs on
a timer: the abandoned-cart purge, the reminders, the expiry, the role restore for the
shop's guild and the stale-order reconciliation. The phase reports the mixed figures
(to set beside the plain mixed phase) and how long each job took.

The jobs' outbox effects (reminder DMs) are stored, not delivered: delivering them is
the effects worker's own throughput, not the batch work measured here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.phases import drive_mixed, summarize
from bench.running import counting_errors, real_bot
from bench.seed import SHOP_ID, BenchDatabase, Rows, bench_database, insert_rows, member_id
from bot.app import StorefrontBot

#: Rows of batch work by kind; 100,000 in all.
ABANDONED_CARTS = 40_000
REMINDERS_DUE = 30_000
EXPIRED = 30_000
#: Ids far past the seeded ones (members, carts, lines), so nothing collides.
FIRST_ID = 50_000_000


def _worker_rows(now: datetime, sizes: tuple[int, int, int]) -> Rows:
    carts_n, reminders_n, expired_n = sizes
    old = now - timedelta(days=60)
    rows: Rows = {"carts": [], "cart_lines": [], "memberships": []}
    for n in range(carts_n):
        mid = member_id(FIRST_ID + n)
        rows["carts"].append((FIRST_ID + n, SHOP_ID, mid, 1, old))
        rows["cart_lines"].append(
            (FIRST_ID + n, FIRST_ID + n, "paid-1m", 1, mid, False, None, None, old)
        )
    base = FIRST_ID + carts_n
    for n in range(reminders_n):  # ends in two days: the 3-day reminder is due
        expires = now + timedelta(days=2)
        rows["memberships"].append(
            (SHOP_ID, member_id(base + n), "paid", expires, False, None, True, now, now)
        )
    base += reminders_n
    for n in range(expired_n):  # ran out yesterday, still holds its role
        expires = now - timedelta(days=1)
        rows["memberships"].append(
            (SHOP_ID, member_id(base + n), "paid", expires, False, 3, True, now, None)
        )
    return rows


async def seed_worker_rows(database: BenchDatabase, sizes: tuple[int, int, int]) -> None:
    """Set-up, not measured: plain sqlite3 or asyncpg, around the store."""
    await insert_rows(database, _worker_rows(datetime.now(UTC), sizes))


class SlowUnits(logging.Handler):
    """Collects the store's "unit <name> took N ms" warnings (units over 50 ms)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.units: dict[str, int] = {}
        self.worst_ms = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != "unit %s took %.0f ms" or not isinstance(record.args, tuple):
            return
        name, took = record.args[0], float(record.args[1])  # type: ignore[arg-type]
        self.units[str(name)] = self.units.get(str(name), 0) + 1
        self.worst_ms = max(self.worst_ms, took)


@contextmanager
def watching_slow_units() -> Iterator[SlowUnits]:
    found = SlowUnits()
    logger = logging.getLogger("store.db")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # counted here, not printed over the table
    logger.addHandler(found)
    try:
        yield found
    finally:
        logger.removeHandler(found)
        logger.setLevel(level)
        logger.propagate = propagate


def _jobs(bot: StorefrontBot) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The batch jobs as the bot's workers call them (bot.app), by worker name."""
    shop = bot.shop
    guild = bot.get_guild(SHOP_ID)
    assert guild is not None, "the bench guild is available"
    days = shop.ctx.config.abandoned_cart_days
    return {
        "abandoned-carts": lambda: shop.carts.purge_abandoned(
            shop.ctx.now() - timedelta(days=days)
        ),
        "reminders": shop.memberships.claim_reminders,
        "expiry": shop.memberships.claim_expired,
        "restore-roles": lambda: bot.deliverer.restore_roles(guild),
        "reconcile": lambda: bot.flow.reconcile(
            timedelta(minutes=bot.settings.workers.pending_age_minutes)
        ),
    }


async def _timed(job: Callable[[], Awaitable[Any]]) -> tuple[float, int | None]:
    start = time.perf_counter()
    result = await job()
    count = len(result) if isinstance(result, list) else result if isinstance(result, int) else None
    return time.perf_counter() - start, count


def sizes_for(config: BenchConfig) -> tuple[int, int, int]:
    """100,000 rows; `--quick` shrinks them with everything else."""
    total = config.worker_rows
    return (
        total * ABANDONED_CARTS // 100_000,
        total * REMINDERS_DUE // 100_000,
        total * EXPIRED // 100_000,
    )


async def workers(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    sizes = sizes_for(config)
    jobs_done: dict[str, dict[str, Any]] = {}
    async with (
        bench_database(config, workdir, config.members, "workers") as database,
        counting_errors() as errors,
        real_bot(database) as (running, bot),
    ):

        async def start_jobs() -> None:
            await seed_worker_rows(database, sizes)
            for name, job in _jobs(bot).items():
                task = asyncio.ensure_future(_timed(job))
                pending.append((name, task))

        pending: list[tuple[str, asyncio.Future[tuple[float, int | None]]]] = []
        with watching_slow_units() as slow:
            stats = await drive_mixed(running, config, before_measure=start_jobs)
        load_s = stats.elapsed_s
        for name, task in pending:
            took, count = await task
            jobs_done[name] = {"seconds": round(took, 3), "items": count}
    result = summarize(stats)
    result["worker_rows"] = sum(sizes)
    result["jobs"] = jobs_done
    result["jobs_done_within_load"] = all(j["seconds"] <= load_s for j in jobs_done.values())
    # Units of work that held the loop over 50 ms during the load, by name (any kind).
    result["slow_units"] = slow.units
    result["slow_unit_worst_ms"] = round(slow.worst_ms, 1)
    result["errors_logged"] = errors.count
    result["first_error"] = errors.first
    return result
