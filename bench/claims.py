"""What claiming an interaction costs: the one write every interaction now makes first.

`claims` times the store's claim on the chosen database: one process claiming fresh ids
one after another (the per-interaction cost, which on SQLite is one small inline write),
then two processes (own engines) claiming the same ids concurrently, as two sessions on
one token would, which must leave exactly one winner per id; and the purge of them all.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.seed import bench_database
from bench.shopfront import bench_settings
from bench.workload import percentile
from store.db.engine import Database, create_engine
from store.shop import Shop

#: Claims timed per part: enough for a stable rate, small next to the mixed phase.
CLAIMS = 5_000
FIRST_ID = 1_300_000_000_000_000_000


async def claims(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    count = min(CLAIMS, config.interactions)
    async with bench_database(config, workdir, 1, "claims") as database:
        settings = bench_settings(database.url, 9)
        engines = [Database(create_engine(database.url)) for _ in range(2)]
        try:
            shops = [Shop.build(db, settings.store, settings.memberships) for db in engines]
            result = await _measure(shops, count, config.concurrency)
        finally:
            for db in engines:
                await db.dispose()
    print(
        f"   claims: {result['claims_per_s']}/s one after another "
        f"(p99 {result['claim_p99_us']} µs), {result['contended_claims_per_s']}/s contended "
        f"by two processes, {result['double_claims']} claimed twice",
        file=sys.stderr,
        flush=True,
    )
    return result


async def _measure(shops: list[Shop], count: int, concurrency: int) -> dict[str, Any]:
    first, second = (shop.interaction_claims for shop in shops)
    times: list[float] = []
    start = time.perf_counter()
    for offset in range(count):
        before = time.perf_counter()
        await first.claim(FIRST_ID + offset)
        times.append((time.perf_counter() - before) * 1_000_000)
    sequential = time.perf_counter() - start

    turns = asyncio.Semaphore(concurrency)

    async def claim(claims: Any, interaction_id: int) -> bool:
        async with turns:
            return bool(await claims.claim(interaction_id))

    contended_ids = range(FIRST_ID + count, FIRST_ID + 2 * count)
    start = time.perf_counter()
    won = await asyncio.gather(
        *(claim(c, i) for i in contended_ids for c in (first, second)),
    )
    contended = time.perf_counter() - start

    start = time.perf_counter()
    purged = await first.purge(first.ctx.now())
    purge = time.perf_counter() - start
    times.sort()
    return {
        "claims": count,
        "claims_per_s": round(count / sequential, 1),
        "claim_p50_us": round(percentile(times, 0.50), 1),
        "claim_p99_us": round(percentile(times, 0.99), 1),
        "contended_claims_per_s": round(2 * count / contended, 1),
        "double_claims": sum(won) - count,
        "purged": purged,
        "purge_ms": round(purge * 1000, 1),
    }
