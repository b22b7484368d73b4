"""Each phase of the benchmark: mixed (bot and floor), burst and webhook storm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.running import Running, counting_errors, floor_bot, real_bot
from bench.seed import bench_database
from bench.workload import Driver, RunStats, percentile, run_closed_loop, sample_of
from bot.testing import InteractionResult


def summarize(stats: RunStats) -> dict[str, Any]:
    finals = stats.finals_ms()
    return {
        "interactions": stats.count,
        "elapsed_s": round(stats.elapsed_s, 3),
        "throughput_per_s": round(stats.throughput, 1),
        "p50_ms": round(percentile(finals, 0.50), 1),
        "p99_ms": round(percentile(finals, 0.99), 1),
        "max_ms": round(finals[-1], 1) if finals else 0.0,
        "failed_interactions": stats.failed,
        "outcomes": stats.outcomes(),
        "by_operation": by_operation(stats),
    }


def by_operation(stats: RunStats) -> dict[str, dict[str, float]]:
    """Count, p50 and p99 per operation: which one makes the tail."""
    finals: dict[str, list[float]] = {}
    for sample in stats.samples:
        if sample.final_s is not None:
            finals.setdefault(sample.op, []).append(sample.final_s * 1000)
    return {
        op: {
            "count": len(values),
            "p50_ms": round(percentile(sorted(values), 0.50), 1),
            "p99_ms": round(percentile(sorted(values), 0.99), 1),
        }
        for op, values in sorted(finals.items())
    }


async def drive_mixed(
    running: Running,
    config: BenchConfig,
    *,
    before_measure: Callable[[], Awaitable[None]] | None = None,
    first: int = 0,
) -> RunStats:
    """Warm up, then measure; `before_measure` runs in between (the workers phase, the
    start barrier of several processes). Members are `first` to `first + config.members`."""
    driver = Driver(
        running.harness,
        running.guild,
        running.panels,
        config.members,
        seed=config.seed,
        first=first,
    )
    await run_closed_loop(driver.ops(config.warmup), driver.run_op, config.concurrency)
    running.harness.reset_log()
    running.guild.reset()
    running.panels.post()
    if before_measure is not None:
        await before_measure()
    return await run_closed_loop(driver.ops(config.interactions), driver.run_op, config.concurrency)


async def mixed(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    async with (
        bench_database(config, workdir, config.members, "mixed") as database,
        counting_errors() as errors,
        real_bot(database) as (running, _bot),
    ):
        stats = await drive_mixed(running, config)
        await asyncio.sleep(0)
    result = summarize(stats)
    result["errors_logged"] = errors.count
    result["first_error"] = errors.first
    return result


async def floor(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    from bench.floor import FloorBot, open_floor_store
    from bench.shopfront import bench_settings
    from payments.gateway import GatewayContext
    from payments.registry import load_gateway
    from store.db.engine import Database, create_engine
    from store.shop import Shop

    async with (
        bench_database(config, workdir, config.members, "floor") as database,
        counting_errors() as errors,
    ):
        settings = bench_settings(database.url, 9)
        unused = Database(create_engine(database.url))  # the Shop wants one; never queried
        shop = Shop.build(unused, settings.store, settings.memberships)
        context = GatewayContext(
            shop_name="bench", public_url="http://127.0.0.1:9", environment="development"
        )
        gateway = load_gateway("fake", settings.payments.options(), context)
        store = await open_floor_store(database)
        client = FloorBot(store, shop, gateway, "http://127.0.0.1:9")
        try:
            async with floor_bot(database, shop.template.catalog, client) as running:
                stats = await drive_mixed(running, config)
        finally:
            await store.close()
            await unused.dispose()
    result = summarize(stats)
    result["errors_logged"] = errors.count
    result["first_error"] = errors.first
    return result


def ack_distribution(results: list[InteractionResult]) -> dict[str, float | None]:
    """p50, p90, p99 and max of press-to-acknowledgement (never acknowledged: None)."""
    acks = sorted(r.ack_latency * 1000 for r in results if r.ack_latency is not None)
    unacknowledged = len(results) - len(acks)
    shares = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
    found: dict[str, float | None] = {}
    for name, share in shares:
        # A press never acknowledged counts as slower than any that was.
        rank = min(len(results), max(1, round(share * len(results))))
        found[f"burst_ack_{name}_ms"] = round(acks[rank - 1], 1) if rank <= len(acks) else None
    found["burst_ack_max_ms"] = None if unacknowledged or not acks else round(acks[-1], 1)
    return found


async def burst(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    """B distinct members press Add to cart at the same instant."""
    async with (
        bench_database(config, workdir, max(config.members, config.burst), "burst") as database,
        counting_errors() as errors,
        real_bot(database) as (running, _bot),
    ):
        harness, guild, panels = running.harness, running.guild, running.panels
        sku = panels.skus[0]
        message = panels.items[sku]
        members = [guild.member(i) for i in range(config.burst)]
        start = time.perf_counter()
        results = await asyncio.gather(
            *(harness.press(m, message, f"shop:add:{sku}", strict=False) for m in members)
        )
        elapsed = time.perf_counter() - start
    samples = [sample_of("add", r) for r in results]
    within = sum(
        1 for r in results if r.ack_latency is not None and not r.expired and r.ack_latency <= 3.0
    )
    finals = sorted(s.final_s * 1000 for s in samples if s.final_s is not None)
    deferred = sum(1 for r in results if r.deferred)
    return {
        "presses": len(results),
        "elapsed_s": round(elapsed, 3),
        "burst_acknowledged_within_3s": round(within / len(results), 4) if results else 1.0,
        "burst_deferred": deferred,
        **ack_distribution(results),
        # Nothing answered has no final latency (None), not a perfect one.
        "burst_final_p99_ms": round(percentile(finals, 0.99), 1) if finals else None,
        "burst_final_max_ms": round(finals[-1], 1) if finals else None,
        "failed_interactions": sum(1 for s in samples if s.outcome == "failed"),
        "outcomes": RunStats(samples).outcomes(),
        "errors_logged": errors.count,
        "first_error": errors.first,
    }
