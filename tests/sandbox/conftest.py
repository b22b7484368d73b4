"""A running sandbox: the real application with the simulated guild, on loopback."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from bot.sandbox.runtime import RunningSandbox
from bot.sandbox.runtime import sandbox as running_sandbox
from bot.settings import Settings, defaults_text


@dataclass
class Sandbox:
    url: str
    members: dict[str, int]
    app: RunningSandbox
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}") as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.url}{path}", json=body) as response:
            return response.status, await response.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_settings(database: Path, port: int) -> Settings:
    data = tomllib.loads(defaults_text())
    data["database"] = {"url": f"sqlite+aiosqlite:///{database}"}
    data["web"] = {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    data["discord"] = {"cooldown_seconds": 0}
    data["payments"]["fake"] = {"webhook_secret": "sandbox-test", "retry_backoff_seconds": 0.01}
    data["workers"] = {"outbox_seconds": 0.2}
    return Settings(**data)


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    port = _free_port()
    settings = sandbox_settings(tmp_path / "sandbox.db", port)
    async with aiohttp.ClientSession() as http, running_sandbox(settings) as running:
        yield Sandbox(
            url=f"http://127.0.0.1:{port}",
            members=dict(running.layout.members),
            app=running,
            http=http,
        )
