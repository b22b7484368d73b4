"""The benchmark runs end to end at toy size and writes every headline key (not timed)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main

KEYS = {
    "throughput_per_s",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "floor_throughput_per_s",
    "ratio_to_floor",
    "burst_acknowledged_within_3s",
    "burst_ack_p50_ms",
    "burst_ack_p90_ms",
    "burst_ack_p99_ms",
    "burst_ack_max_ms",
    "burst_final_p99_ms",
    "workers_p99_ms",
    "workers_p99_vs_mixed",
    "failed_interactions",
    "storm_events_per_s",
    "duplicate_grants",
    "rss_mb",
    "startup_s",
    "cpu_count",
    "python_version",
}


def test_quick_run_writes_every_key(tmp_path: Path) -> None:
    """`python -m bench --quick` on tiny sizes produces the JSON the issue asks for."""
    out = tmp_path / "bench.json"
    argv = ["--quick", "--members", "60", "--interactions", "60", "--burst", "20"]
    argv += ["--storm", "20", "--memory-members", "200", "--worker-rows", "300"]
    argv += ["--json", str(out)]
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    assert summary.keys() >= KEYS
    missing = sorted(key for key in KEYS if summary[key] is None)
    assert not missing, missing
    assert summary["duplicate_grants"] == 0
