"""Phases measured in a fresh process: start-up time and peak memory.

`python -m bench.child startup URL` prints `READY` once the bot is ready offline;
`python -m bench.child mixed URL FIRST MEMBERS INTERACTIONS WARMUP CONCURRENCY SEED`
warms up, prints `WARM`, waits for a line on stdin (so several processes measure the
same window), runs the mixed workload over members FIRST to FIRST + MEMBERS and prints
its latencies as JSON (the `processes` phase, bench.processes);
`python -m bench.child memory URL MEMBERS INTERACTIONS CONCURRENCY` drives the mixed
workload over the members and prints the peak RSS in MB (`rss_mb`, the bot and the
offline harness together), the RSS once the bot was ready (`rss_ready_mb`) and the
harness's share (`rss_harness_mb`: bytes the fake Discord and the driver still hold
at the end, see bench.footprint).

The harness keeps little: each reply is forgotten once read and each member leaves the
fake world after their interaction, so what grows with the run is the bot's own memory.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's own peak RSS.

    VmHWM from /proc rather than getrusage: Linux carries ru_maxrss over fork and
    exec, so a child started by a large parent would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _startup(url: str) -> None:
    from bench.running import real_bot
    from bench.seed import BenchDatabase

    async with real_bot(BenchDatabase("x", url)):
        print("READY", flush=True)


async def _memory(url: str, members: int, interactions: int, concurrency: int) -> None:
    from bench.footprint import harness_bytes
    from bench.running import counting_errors, real_bot
    from bench.seed import BenchDatabase
    from bench.workload import Driver, run_closed_loop

    async with counting_errors() as errors, real_bot(BenchDatabase("x", url)) as (running, _bot):
        ready = peak_rss_mb()
        driver = Driver(
            running.harness,
            running.guild,
            running.panels,
            members,
            seed=2,
            transient_members=True,
        )
        stats = await run_closed_loop(driver.ops(interactions), driver.run_op, concurrency)
        peak = peak_rss_mb()  # before sizing the harness, which allocates a little
        harness = harness_bytes(running, driver, stats) / 2**20
        running.harness.reset_log()
        running.guild.reset()
    print(
        json.dumps(
            {
                "rss_mb": round(peak, 1),
                "rss_ready_mb": round(ready, 1),
                "rss_harness_mb": round(harness, 1),
                "memory_interactions": stats.count,
                "memory_failed": stats.failed,
                "memory_errors_logged": errors.count,
                "memory_first_error": errors.first,
            }
        ),
        flush=True,
    )


async def _mixed(url: str, first: int, sizes: dict[str, int]) -> None:
    import time
    from dataclasses import replace

    from bench.config import BenchConfig
    from bench.phases import drive_mixed
    from bench.running import counting_errors, real_bot
    from bench.seed import BenchDatabase

    config = replace(BenchConfig(db="postgres"), **sizes)

    async def barrier() -> None:
        print("WARM", flush=True)
        await asyncio.to_thread(sys.stdin.readline)

    async with counting_errors() as errors, real_bot(BenchDatabase("x", url)) as (running, _bot):
        stats = await drive_mixed(running, config, before_measure=barrier, first=first)
        ended = time.time()
    print(
        json.dumps(
            {
                "interactions": stats.count,
                "elapsed_s": stats.elapsed_s,
                "started": ended - stats.elapsed_s,
                "ended": ended,
                "finals_ms": stats.finals_ms(),
                "failed_interactions": stats.failed,
                "outcomes": stats.outcomes(),
                "errors_logged": errors.count,
                "first_error": errors.first,
            }
        ),
        flush=True,
    )


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if argv[0] == "startup":
        asyncio.run(_startup(argv[1]))
    elif argv[0] == "memory":
        asyncio.run(_memory(argv[1], int(argv[2]), int(argv[3]), int(argv[4])))
    elif argv[0] == "mixed":
        names = ("members", "interactions", "warmup", "concurrency", "seed")
        sizes = dict(zip(names, (int(a) for a in argv[3:8]), strict=True))
        asyncio.run(_mixed(argv[1], int(argv[2]), sizes))
    else:
        raise SystemExit(f"unknown phase {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
