"""Background jobs run on an interval: reconciliation, reminders, expiry, the outbox.

Each job is a plain coroutine function; `Periodic` only decides when it runs and
keeps one failure from stopping the next run. The timing is discord.py's own
`discord.ext.tasks.loop` (first pass at once, then one every `interval` seconds);
`Periodic` adds what a shop needs on top: any exception is logged and the next pass
still happens (a task loop stops on anything but a connection error), and `kick`
runs a pass now when new work arrives. Every job is safe with several processes
running it (the store claims work under locks and unique ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from discord.ext import tasks

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
        self._loop: tasks.Loop[Callable[[], Coroutine[Any, Any, None]]] = tasks.loop(
            seconds=interval, name=f"worker-{name}"
        )(self._pass)
        self._ran = asyncio.Event()
        self._busy = False
        self._again = False
        # A restart was asked for and its pass has not begun: a second `restart` now
        # would try to start the task the first one is about to start (RuntimeError).
        self._restart_pending = False
        self._stopped = True

    async def ran_once(self) -> None:
        """Return once the first pass is over (tests wait for start-up work to settle)."""
        await self._ran.wait()

    def start(self) -> None:
        if self._stopped:
            self._stopped = False
            self._loop.start()

    def kick(self) -> None:
        """Run now instead of waiting for the interval (new work just arrived).

        Between passes the loop is only sleeping: restarting it runs a pass at once.
        During a pass it is never cancelled (the job would stop half-way); the pass
        runs the job once more instead, so work that arrived meanwhile is not left
        for the next interval. Several kicks between two passes ask for one restart:
        the pass it starts serves them all.
        """
        if self._stopped:
            return
        if self._busy:
            self._again = True
        elif not self._restart_pending:
            self._restart_pending = True
            # In an empty context: a kick from an interaction's handler must not leave
            # that interaction's context variables in the worker's long-lived task.
            contextvars.Context().run(self._loop.restart)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # A kick's restart may start a fresh task as the old one ends: stop that too.
        while (task := self._loop.get_task()) is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pass(self) -> None:
        self._restart_pending = False
        self._busy = True
        try:
            again = True
            while again:
                self._again = False
                try:
                    await self.job()
                except Exception:
                    log.exception(
                        "worker %s failed; it runs again in %.0f s", self.name, self.interval
                    )
                self.runs += 1
                self._ran.set()
                again = self._again and not self._stopped
        finally:
            self._busy = False
