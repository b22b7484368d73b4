"""The fake REST API beyond interactions: command sync, unknown routes, channel messages."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from bot.testing import DiscordHarness, DiscordLimitError

pytestmark = pytest.mark.asyncio


async def test_sync_stores_the_commands(harness: DiscordHarness) -> None:
    """tree.sync() to a guild is accepted and stored with ids, as Discord answers it."""
    guild = discord.Object(harness.world.guild.id)
    harness.client.tree.copy_global_to(guild=guild)  # type: ignore[attr-defined]
    synced = await harness.client.tree.sync(guild=guild)  # type: ignore[attr-defined]
    names = sorted(c["name"] for c in harness.world.commands[harness.world.guild.id])
    assert names == sorted(c.name for c in synced)
    assert "echo" in names


@pytest.mark.allow_discord_errors
async def test_invalid_sync_is_refused(harness: DiscordHarness) -> None:
    """A command Discord would refuse (26 choices) makes sync fail with 400 and the test raise."""

    @app_commands.command(description="too many choices")
    @app_commands.choices(pick=[app_commands.Choice(name=str(i), value=i) for i in range(26)])
    async def bad(interaction: discord.Interaction, pick: int) -> None:
        pass

    tree = harness.client.tree  # type: ignore[attr-defined]
    tree.add_command(bad)
    with pytest.raises(discord.HTTPException) as raised:
        await tree.sync()
    assert raised.value.status == 400
    with pytest.raises(DiscordLimitError, match=r"options\[0\]\.choices: 26 items, at most 25"):
        await harness.close()


async def test_channel_send_is_stored(harness: DiscordHarness) -> None:
    """A plain channel send is stored in the world and logged with its body."""
    general = harness.world.guild.channel("general")
    channel = harness.client.get_channel(general.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("announcement", embed=discord.Embed(title="Sale"))
    [message] = harness.messages(general)
    assert (message.id, message.content, message.embeds[0]["title"]) == (
        sent.id,
        "announcement",
        "Sale",
    )
    assert (
        harness.calls("POST", "/channels/{channel_id}/messages")[0].json["content"]
        == "announcement"
    )


async def test_fetch_member_answers_from_the_world(harness: DiscordHarness) -> None:
    """GET member returns the member as the world has it."""
    guild = harness.client.get_guild(harness.world.guild.id)
    assert guild is not None
    alice = next(m for m in harness.world.guild.members.values() if m.name == "alice")
    fetched = await guild.fetch_member(alice.id)
    assert fetched.name == "alice"


async def test_unknown_route_fails_the_test(harness: DiscordHarness) -> None:
    """A route the fake does not implement answers 404 and is raised at close."""
    with pytest.raises(discord.NotFound):
        await harness.client.fetch_invite("abc")
    with pytest.raises(DiscordLimitError, match="not implemented"):
        await harness.close()
