"""The sizes of every phase, and the `--quick` preset the smoke test uses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Backend = Literal["sqlite", "postgres"]
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

#: The mixed workload: (operation, share). Shares add up to 1.
MIX: tuple[tuple[str, float], ...] = (
    ("browse", 0.40),
    ("item", 0.20),
    ("add", 0.20),
    ("view", 0.10),
    ("remove", 0.05),
    ("checkout", 0.05),
)


@dataclass(frozen=True)
class BenchConfig:
    db: Backend = "sqlite"
    postgres_url: str = DEFAULT_POSTGRES
    members: int = 10_000
    concurrency: int = 200
    interactions: int = 20_000
    warmup: int = 2_000
    burst: int = 5_000
    storm: int = 4_000
    storm_concurrency: int = 32
    memory_members: int = 100_000
    memory_interactions: int = 20_000
    #: Rows of batch work the workers phase adds (abandoned carts, reminders, expiries).
    worker_rows: int = 100_000
    seed: int = 1
    #: OS processes running the mixed workload at once on one PostgreSQL database (the
    #: `processes` phase, beside one process); 1 = that phase is not run.
    processes: int = 1
    phases: tuple[str, ...] = ("mixed", "floor", "burst", "storm", "memory", "startup")

    def quick(self) -> BenchConfig:
        """Everything shrunk so the whole run takes a few seconds (the smoke test)."""
        return replace(
            self,
            members=300,
            concurrency=20,
            interactions=300,
            warmup=40,
            burst=100,
            storm=80,
            memory_members=1_000,
            memory_interactions=200,
            worker_rows=600,
        )
