from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from harness_toy_bot import ToyBot

from bot.testing import DiscordHarness, FakeDiscord, FakeMember, offline

# The ERROR guard (bot.testing.pytest_plugin) is registered for every test in tests/conftest.py.


@pytest.fixture
def world() -> FakeDiscord:
    world = FakeDiscord()
    guild = world.add_guild("Toy Guild")
    guild.add_role("Member")
    guild.add_member("alice")
    guild.add_member("bob")
    return world


@pytest.fixture
def alice(world: FakeDiscord) -> FakeMember:
    return next(m for m in world.guild.members.values() if m.name == "alice")


@pytest.fixture
def bob(world: FakeDiscord) -> FakeMember:
    return next(m for m in world.guild.members.values() if m.name == "bob")


@pytest_asyncio.fixture
async def harness(world: FakeDiscord) -> AsyncIterator[DiscordHarness]:
    async with offline(ToyBot(), world) as running:
        yield running
