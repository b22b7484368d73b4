"""Background jobs run on an interval: reconciliation, reminders, expiry, the outbox.

Each job is a plain coroutine function; `Periodic` only decides when it runs and
keeps one failure from stopping the next run. Every job is safe with several
processes running it (the store claims work under locks and unique ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Periodic:
    """Run `job` every `interval` seconds until stopped."""

    def __init__(self, name: str, interval: float, job: Job) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.interval = interval
        self.job = job
        self.runs = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._ran = asyncio.Event()

    async def ran_once(self) -> None:
        """Return once the first pass is over (tests wait for start-up work to settle)."""
        await self._ran.wait()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"worker-{self.name}")

    def kick(self) -> None:
        """Run now instead of waiting for the interval (new work just arrived)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s failed; it runs again in %.0f s", self.name, self.interval)
            self.runs += 1
            self._ran.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
