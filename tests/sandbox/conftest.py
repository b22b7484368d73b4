"""A running sandbox: the real application with the simulated guild, on loopback."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, async_playwright, expect

from bot.sandbox.runtime import RunningSandbox
from bot.sandbox.runtime import sandbox as running_sandbox
from bot.settings import Settings, defaults_text
from tests.payments.stripe_api_stub import StripeStub, gateway_table
from tests.sandbox.browser_support import TIMEOUT_MS, chromium_path


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

    async def slash(self, who: str, command: str, /, *path: str, **options: Any) -> Any:
        """Run a slash command as member `who` through the sandbox API; the bot's answer."""
        status, body = await self.post(
            "/sandbox/api/commands",
            {"member": str(self.members[who]), "command": command, "path": list(path)}
            | {"options": options},
        )
        assert status == 200 and body["result"]["ok"], body
        return body["result"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_settings(
    database: Path, port: int, *, store: dict[str, Any] | None = None, stripe_url: str | None = None
) -> Settings:
    """The defaults on loopback; `store` overrides [store] keys; `stripe_url` enables Stripe
    (on the local stub at that address) before the fake gateway, so checkout asks which."""
    data = tomllib.loads(defaults_text())
    data["database"] = {"url": f"sqlite+aiosqlite:///{database}"}
    data["web"] = {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    data["discord"] = {"cooldown_seconds": 0}
    data["payments"]["fake"] = {"webhook_secret": "sandbox-test", "retry_backoff_seconds": 0.01}
    if stripe_url is not None:
        data["payments"]["gateways"] = ["stripe", "fake"]
        data["payments"]["stripe"] = gateway_table(stripe_url)
    data["store"].update(store or {})
    data["workers"] = {"outbox_seconds": 0.2}
    return Settings(**data)


@asynccontextmanager
async def _serve(settings: Settings, port: int) -> AsyncIterator[Sandbox]:
    async with aiohttp.ClientSession() as http, running_sandbox(settings) as running:
        yield Sandbox(
            url=f"http://127.0.0.1:{port}",
            members=dict(running.layout.members),
            app=running,
            http=http,
        )


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """The sandbox with the default settings; parametrize indirectly with a dict of [store]
    overrides (e.g. ``{"gift_note_max": 1000}``) for a variant."""
    port = _free_port()
    store = getattr(request, "param", None)
    settings = sandbox_settings(tmp_path / "sandbox.db", port, store=store)
    async with _serve(settings, port) as running:
        yield running


@pytest_asyncio.fixture
async def two_gateway_sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox with Stripe (the local stub) and the fake gateway both enabled."""
    stub = StripeStub()
    await stub.start()
    try:
        port = _free_port()
        settings = sandbox_settings(tmp_path / "sandbox.db", port, stripe_url=stub.url)
        async with _serve(settings, port) as running:
            yield running
    finally:
        await stub.close()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    """Headless Debian Chromium, one context per test (Playwright never downloads one)."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, headless=True)
        context = await chromium.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()
            await chromium.close()
