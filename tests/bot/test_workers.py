"""The interval runner keeps going after a failing run and stops cleanly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.workers import Periodic

pytestmark = pytest.mark.asyncio


async def test_a_failing_run_does_not_stop_the_worker() -> None:
    """An exception is logged and the next run still happens."""
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    worker = Periodic("flaky", 0.01, job)
    worker.start()
    for _ in range(100):
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.01)
    await worker.stop()
    assert len(calls) >= 3


async def test_kick_runs_without_waiting_for_the_interval() -> None:
    """New work wakes the worker at once."""
    ran = asyncio.Event()
    count = 0

    async def job() -> None:
        nonlocal count
        count += 1
        if count == 2:
            ran.set()

    worker = Periodic("slow", 3600, job)
    worker.start()
    await asyncio.sleep(0.01)
    worker.kick()
    await asyncio.wait_for(ran.wait(), timeout=2)
    await worker.stop()


async def test_interval_must_be_positive() -> None:
    """A zero interval would spin."""
    with pytest.raises(ValueError, match="positive"):
        Periodic("bad", 0, lambda: asyncio.sleep(0))


async def test_a_kick_during_a_run_runs_again_without_cutting_the_run_short() -> None:
    """The running pass finishes; the work that arrived meanwhile gets a pass at once."""
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[int] = []

    async def job() -> None:
        started.set()
        if not finished:
            await release.wait()
        finished.append(1)

    worker = Periodic("busy", 3600, job)
    worker.start()
    await asyncio.wait_for(started.wait(), timeout=2)
    worker.kick()
    release.set()
    for _ in range(200):
        if len(finished) >= 2:
            break
        await asyncio.sleep(0.01)
    await worker.stop()
    assert finished == [1, 1]
    assert worker.runs == 2


async def test_a_stopped_worker_runs_no_more() -> None:
    """After stop, a kick starts nothing."""
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)

    worker = Periodic("done", 3600, job)
    worker.start()
    await asyncio.wait_for(worker.ran_once(), timeout=2)
    await worker.stop()
    worker.kick()
    await asyncio.sleep(0.05)
    assert calls == [1]


async def test_a_kick_just_before_stop_leaves_nothing_running() -> None:
    """The restart a kick asked for does not outlive the stop."""

    async def job() -> None:
        return None

    worker = Periodic("late", 3600, job)
    worker.start()
    await asyncio.wait_for(worker.ran_once(), timeout=2)
    worker.kick()
    await worker.stop()
    await asyncio.sleep(0.05)
    assert [t for t in asyncio.all_tasks() if t.get_name() == "worker-late"] == []


async def test_two_kicks_between_passes_run_one_extra_pass_without_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second kick joins the restart the first asked for instead of starting a
    task that is already running (asyncio would log that at ERROR)."""

    async def job() -> None:
        return None

    worker = Periodic("twice", 3600, job)
    worker.start()
    await asyncio.wait_for(worker.ran_once(), timeout=2)
    with caplog.at_level(logging.ERROR):
        worker.kick()
        worker.kick()
        for _ in range(20):
            await asyncio.sleep(0.01)
    await worker.stop()
    assert worker.runs == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
