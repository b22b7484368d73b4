"""A sharded client (discord.py's AutoShardedBot) in the harness: each shard gets its guilds."""

from __future__ import annotations

import pytest
from harness_toy_bot import ShardedToyBot

from bot.testing import (
    FakeDiscord,
    FakeGuild,
    FakeMember,
    NotOnThisShard,
    offline,
    on_shard,
    shard_of,
)

pytestmark = pytest.mark.asyncio

COUNT = 4


@pytest.fixture
def world() -> FakeDiscord:
    """One guild on each of four shards, each with a member named after its shard."""
    world = FakeDiscord()
    for shard in range(COUNT):
        guild = world.add_guild(f"Guild {shard}", shard=(shard, COUNT))
        guild.add_member(f"member{shard}")
    return world


def guilds(world: FakeDiscord) -> list[FakeGuild]:
    return sorted(world.guilds.values(), key=lambda g: shard_of(g.id, COUNT))


def member_of(guild: FakeGuild) -> FakeMember:
    return next(m for m in guild.members.values() if m.name.startswith("member"))


async def test_a_guild_made_for_a_shard_lands_on_it() -> None:
    world = FakeDiscord()
    placed = [world.add_guild(shard=(s, 7)).id for s in (0, 3, 6)]
    assert [shard_of(g, 7) for g in placed] == [0, 3, 6]


async def test_each_shard_gets_ready_and_only_its_guilds(world: FakeDiscord) -> None:
    bot = ShardedToyBot(COUNT, [1, 3])
    async with offline(bot, world) as harness:
        assert bot.is_ready()
        assert sorted(bot.shards_ready) == [1, 3]
        ours = [g for g in guilds(world) if shard_of(g.id, COUNT) in (1, 3)]
        assert sorted(bot.available) == sorted(g.id for g in ours)
        assert {g.id for g in bot.guilds} == {g.id for g in ours}
        for guild in ours:
            cached = bot.get_guild(guild.id)
            assert cached is not None and cached.shard_id == shard_of(guild.id, COUNT)
        assert harness.shard_ids == [1, 3]


async def test_an_interaction_reaches_its_guild_on_the_shard(world: FakeDiscord) -> None:
    guild = guilds(world)[2]
    async with offline(ShardedToyBot(COUNT, [2]), world) as harness:
        result = await harness.slash(member_of(guild), "whereami")
    assert result.final is not None
    assert result.final.content == "Guild 2 on shard 2, cached: True"


async def test_an_interaction_from_another_shard_is_not_delivered(world: FakeDiscord) -> None:
    guild = guilds(world)[0]
    async with offline(ShardedToyBot(COUNT, [2, 3]), world) as harness:
        with pytest.raises(NotOnThisShard, match="shard 0 of 4; this client runs shards"):
            await harness.slash(member_of(guild), "whereami")
        assert harness.rest.log == harness.startup.calls  # nothing went out for it


async def test_without_shard_ids_a_sharded_client_runs_every_shard(world: FakeDiscord) -> None:
    bot = ShardedToyBot(COUNT)
    async with offline(bot, world) as harness:
        assert sorted(bot.shards_ready) == [0, 1, 2, 3]
        assert len(bot.guilds) == COUNT
        for guild in guilds(world):
            result = await harness.slash(member_of(guild), "echo", text="hi")
            assert result.acknowledged


async def test_two_sharded_clients_split_the_guilds_and_the_interactions(
    world: FakeDiscord,
) -> None:
    first, second = ShardedToyBot(COUNT, [0, 1]), ShardedToyBot(COUNT, [2, 3])
    async with offline(first, world) as one, offline(second, world) as two:
        assert {g.id for g in first.guilds}.isdisjoint({g.id for g in second.guilds})
        assert len(first.guilds) + len(second.guilds) == COUNT
        for shard, guild in enumerate(guilds(world)):
            harness = on_shard([one, two], guild)
            assert harness is (one if shard < 2 else two)
            result = await harness.slash(member_of(guild), "whereami")
            assert result.final is not None
            assert result.final.content == f"Guild {shard} on shard {shard}, cached: True"
        assert on_shard([one, two], None) is one  # direct messages arrive on shard 0
