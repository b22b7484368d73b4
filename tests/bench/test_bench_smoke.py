"""The benchmark runs end to end at toy size and writes every headline key (not timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def test_two_processes_on_postgres_report_beside_one(tmp_path: Path) -> None:
    """`--db postgres --processes 2`: both processes finish with no failed interaction, and
    the report gives the one-process and two-process mixed figures side by side."""
    out = tmp_path / "bench.json"
    argv = ["--quick", "--db", "postgres", "--processes", "2", "--phases", "mixed"]
    argv += ["--members", "60", "--interactions", "60", "--json", str(out)]
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    many = summary["phases"]["processes"]["many"]
    assert [run["failed_interactions"] for run in many["each"]] == [0, 0]
    assert sum(run["interactions"] for run in many["each"]) == 60
    assert summary["mixed_1_process_throughput_per_s"] > 0
    assert summary["mixed_n_processes_throughput_per_s"] > 0
    assert summary["failed_interactions"] == 0


def test_processes_refuse_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    """Several processes share one PostgreSQL database: on SQLite the option is refused."""
    with pytest.raises(SystemExit):
        main(["--quick", "--processes", "2"])
    assert "--processes N > 1 needs --db postgres" in capsys.readouterr().err
