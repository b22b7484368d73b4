"""The storefront as a real operating-system process, for crash and multi-process tests.

`AppProcess` starts ``python -m bot.cli run`` in sandbox mode with settings from the
environment, waits until its sandbox API answers, and can SIGKILL it at any moment.
`SandboxClient` drives it over HTTP exactly as the sandbox page does, and pays on the
fake gateway's JSON endpoints. Everything is on loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
GUILD_ID = 900_000_000_000_000_001
MODERATOR_ID = 100_000_000_000_000_009
START_TIMEOUT = 40.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def member_ids(count: int) -> list[int]:
    return [100_000_000_000_000_101 + index for index in range(count)]


def app_environment(
    *,
    database_url: str,
    port: int,
    state_path: Path,
    members: int,
    public_port: int | None = None,
    extra: dict[str, str] | None = None,
    roles: Mapping[int, Sequence[int]] | None = None,
) -> dict[str, str]:
    """Settings for one process, all from STOREFRONT_* variables (no file).

    `roles` gives sandbox members Discord roles they hold from the start (by role id).
    """
    held = roles or {}
    sandbox_members: list[dict[str, Any]] = [
        {"id": member_id, "name": f"m{index}", "roles": list(held.get(member_id, ()))}
        for index, member_id in enumerate(member_ids(members))
    ]
    sandbox_members.append({"id": MODERATOR_ID, "name": "mod", "moderator": True})
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STOREFRONT_") and key != "PYTHONPATH"
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "STOREFRONT_DATABASE__URL": database_url,
            "STOREFRONT_DATABASE__LOCK_TIMEOUT_MS": "10000",
            "STOREFRONT_WEB__HOST": "127.0.0.1",
            "STOREFRONT_WEB__PORT": str(port),
            "STOREFRONT_WEB__PUBLIC_URL": f"http://127.0.0.1:{public_port or port}",
            "STOREFRONT_DISCORD__COOLDOWN_SECONDS": "0",
            "STOREFRONT_PAYMENTS__FAKE__STATE_PATH": str(state_path),
            "STOREFRONT_PAYMENTS__FAKE__RETRY_BACKOFF_SECONDS": "0.05",
            "STOREFRONT_PAYMENTS__FAKE__MAX_DELIVERY_ATTEMPTS": "10",
            "STOREFRONT_PAYMENTS__FAKE__DELIVERY_TIMEOUT_SECONDS": "5",
            "STOREFRONT_SANDBOX__MEMBERS": json.dumps(sandbox_members),
            "STOREFRONT_WORKERS__OUTBOX_SECONDS": "0.2",
            "STOREFRONT_WORKERS__RECONCILE_SECONDS": "10",
            "STOREFRONT_WORKERS__PENDING_AGE_MINUTES": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class AppProcess:
    """One `storefront run` process; its output goes to a log file for post-mortems."""

    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_path(self) -> Path:
        """The fake gateway's state file (sessions and webhooks not yet sent)."""
        return Path(self.env["STOREFRONT_PAYMENTS__FAKE__STATE_PATH"])

    def spawn(self) -> subprocess.Popen[bytes]:
        assert self.process is None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                env=self.env,
                cwd=self.log_path.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        return self.process

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Spawn the process and wait until its sandbox API answers."""
        process = self.spawn()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the app exited at start:\n{self.tail()}")
            try:
                async with http.get(f"{self.url}/sandbox/api/state") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        self.kill()
        raise AssertionError(f"the app did not start within {START_TIMEOUT}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, exactly like a power cut of the process."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        self.kills += 1

    def stop(self) -> None:
        """Ctrl-C, as an operator stops the sandbox; SIGKILL if it does not go."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class SandboxClient:
    """The sandbox API and the fake gateway's JSON endpoints of one process."""

    http: aiohttp.ClientSession
    url: str
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    async def command(
        self, member: int, command: str, *path: str, **options: Any
    ) -> dict[str, Any] | None:
        """Run a slash command; None when the process went away mid-request."""
        body = {"member": str(member), "command": command, "path": list(path), "options": options}
        status, answer = await self._post("/sandbox/api/commands", body)
        if status is None:
            return None
        assert status == 200, (status, answer)
        result: dict[str, Any] = answer["result"]
        return result

    async def pay(self, session_id: str) -> int | None:
        status, _ = await self._post(f"/fake-gateway/sessions/{session_id}/pay", {})
        return status

    async def session(self, session_id: str) -> dict[str, Any] | None:
        try:
            async with self.http.get(f"{self.url}/fake-gateway/sessions/{session_id}") as response:
                if response.status != 200:
                    return None
                answer: dict[str, Any] = await response.json()
                return answer
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def state(self) -> dict[str, Any]:
        """The sandbox guild: members with their roles, channels, commands."""
        async with self.http.get(f"{self.url}/sandbox/api/state") as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return answer

    async def faults(self, **plan: Any) -> None:
        """Set the fake gateway's fault plan for the webhooks it sends from now on."""
        async with self.http.post(f"{self.url}/fake-gateway/faults", json=plan) as response:
            assert response.status == 200, await response.text()

    async def dms(self, member: int) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/sandbox/api/members/{member}/dms") as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return list(answer["messages"])

    async def _post(self, path: str, body: Any) -> tuple[int | None, Any]:
        self.requests += 1
        try:
            async with self.http.post(
                f"{self.url}{path}", json=body, headers={"Accept": "application/json"}
            ) as response:
                return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
            self.errors.append(f"{path}: {error!r}")
            return None, None


def embed_title(result: dict[str, Any] | None) -> str:
    if not result or not result.get("message") or not result["message"]["embeds"]:
        return ""
    return str(result["message"]["embeds"][0].get("title", ""))


def checkout_session_id(result: dict[str, Any] | None) -> str | None:
    """The fake gateway session behind the Pay link of a checkout answer."""
    if not result or not result.get("message"):
        return None
    for row in result["message"]["components"]:
        for component in row.get("components", []):
            url = component.get("url", "")
            if "/fake-gateway/checkout/" in url:
                return str(url.rsplit("/", 1)[-1])
    return None


def gateway_state(state_path: Path) -> dict[str, Any]:
    """The fake gateway's persisted sessions and undelivered webhooks."""
    if not state_path.exists():
        return {"sessions": [], "outbox": []}
    data: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
    return data
