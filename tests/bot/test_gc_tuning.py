"""The bot tunes CPython's garbage collector while it runs, and gives it back when closed."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bot.gc_tuning import THRESHOLDS
from bot.runtime import build_storefront
from bot.testing import FakeDiscord
from bot.testing.storefront import storefront_offline
from tests.bot.conftest import _free_port, make_settings
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


async def test_ready_bot_collects_less_often_and_restores_the_collector_when_closed(
    tmp_path: Path,
) -> None:
    before = gc.get_threshold()
    world = FakeDiscord()
    world.add_guild("Storefront Test")
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}", _free_port())
    front = build_storefront(settings, clock=FakeClock())
    async with storefront_offline(front, world):
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
