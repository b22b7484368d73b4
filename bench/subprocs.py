"""Running the start-up and memory phases in their own process."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.seed import bench_database

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 600


async def _child(*args: str) -> tuple[asyncio.subprocess.Process, float]:
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.child",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return process, start


async def startup(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    """Process start to ready (offline): interpreter, imports, migrations check, login."""
    times: list[float] = []
    async with bench_database(config, workdir, config.members, "startup") as database:
        for _ in range(3):
            process, start = await _child("startup", database.url)
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT_S)
            ready = time.perf_counter() - start
            _, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
            if not line.startswith(b"READY"):
                raise RuntimeError(f"start-up child failed: {err.decode()[-2000:]}")
            times.append(ready)
    return {"startup_s": round(min(times), 3), "startup_runs_s": [round(t, 3) for t in times]}


async def memory(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    async with bench_database(config, workdir, config.memory_members, "memory") as database:
        process, _ = await _child(
            "memory",
            database.url,
            str(config.memory_members),
            str(config.memory_interactions),
            str(config.concurrency),
        )
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"memory child failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["memory_members"] = config.memory_members
    return result
