"""The mixed workload in one OS process and in N at once, on one PostgreSQL database.

This is how the bot scales out (issue 15): several processes, each its own bot, on one
PostgreSQL database. Both figures come from the same child (`bench.child mixed`), so
they differ only in the number of processes: first one process on a freshly seeded
database, then N processes on another one, seeded once for all of them.

The configured load is split, not multiplied: each of the N processes takes 1/N of the
members (disjoint ranges, so no two processes touch one cart), of the measured
interactions, of the warm-up and of the members in flight. Every run so offers the same
work at the same concurrency, and only the processes sharing it change. Each process
warms up, then waits at a barrier so that all N measure the same window; the combined
throughput is all their interactions over that window (first start to last end), the
p99 is over all their latencies together.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.seed import bench_database
from bench.workload import percentile

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 1800


def _share(total: int, count: int, index: int) -> int:
    """Process `index`'s part of `total` split in `count` (the first ones take the rest)."""
    return total // count + (1 if index < total % count else 0)


async def _start(
    url: str, config: BenchConfig, count: int, index: int
) -> asyncio.subprocess.Process:
    members = config.members // count
    sizes = (
        members,
        _share(config.interactions, count, index),
        _share(config.warmup, count, index),
        max(1, _share(config.concurrency, count, index)),
        config.seed + index,
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.child",
        "mixed",
        url,
        str(index * members),
        *(str(size) for size in sizes),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _failure(process: asyncio.subprocess.Process, what: str) -> RuntimeError:
    process.kill()
    _, err = await process.communicate()
    return RuntimeError(f"{what}: {err.decode()[-2000:]}")


async def run_processes(url: str, config: BenchConfig, count: int) -> dict[str, Any]:
    """`count` children on the database at once; their combined and separate figures."""
    children = [await _start(url, config, count, i) for i in range(count)]
    try:
        for child in children:  # every one warmed up before any measures
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), TIMEOUT_S)
            if not line.startswith(b"WARM"):
                raise await _failure(child, "mixed child failed while warming up")
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"GO\n")
            await child.stdin.drain()
        outputs = await asyncio.gather(
            *(asyncio.wait_for(child.communicate(), TIMEOUT_S) for child in children)
        )
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    runs: list[dict[str, Any]] = []
    for child, (out, err) in zip(children, outputs, strict=True):
        lines = out.decode().strip().splitlines()
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"mixed child failed: {err.decode()[-2000:]}")
        runs.append(json.loads(lines[-1]))
    finals = sorted(ms for run in runs for ms in run["finals_ms"])
    interactions = sum(run["interactions"] for run in runs)
    window = max(run["ended"] for run in runs) - min(run["started"] for run in runs)
    return {
        "processes": count,
        "interactions": interactions,
        "elapsed_s": round(window, 3),
        "throughput_per_s": round(interactions / window, 1) if window else 0.0,
        "p50_ms": round(percentile(finals, 0.50), 1),
        "p99_ms": round(percentile(finals, 0.99), 1),
        "max_ms": round(finals[-1], 1) if finals else 0.0,
        "failed_interactions": sum(run["failed_interactions"] for run in runs),
        "errors_logged": sum(run["errors_logged"] for run in runs),
        "first_error": next((run["first_error"] for run in runs if run["first_error"]), None),
        "each": [
            {
                "interactions": run["interactions"],
                "throughput_per_s": round(run["interactions"] / run["elapsed_s"], 1),
                "p99_ms": round(percentile(run["finals_ms"], 0.99), 1),
                "failed_interactions": run["failed_interactions"],
                "errors_logged": run["errors_logged"],
            }
            for run in runs
        ],
    }


async def processes(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    """One process, then `config.processes` at once, each on a freshly seeded database."""
    results: dict[str, Any] = {}
    for count in (1, config.processes):
        async with bench_database(config, workdir, config.members, f"procs{count}") as db:
            results[str(count)] = await run_processes(db.url, config, count)
    one, many = results["1"], results[str(config.processes)]
    return {
        "processes": config.processes,
        "one": one,
        "many": many,
        "gain": round(many["throughput_per_s"] / one["throughput_per_s"], 3)
        if one["throughput_per_s"]
        else None,
        "failed_interactions": one["failed_interactions"] + many["failed_interactions"],
    }
