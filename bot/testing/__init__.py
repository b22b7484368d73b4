"""The offline Discord: a fake world, a fake REST API and a harness that drives a real bot.

Used by the bot's tests, the benchmark and the browser sandbox; see
docs/discord-offline-testing.md for the discord.py facts it rests on.
"""

from bot.testing.commands import RefusedByClient
from bot.testing.fake_http import FakeHTTPError, FakeRest
from bot.testing.harness import (
    DISPATCH_TASK_PREFIXES,
    DiscordHarness,
    InteractionFailed,
    NotOnThisShard,
    offline,
    on_shard,
)
from bot.testing.limits import DiscordLimitError, check_commands, check_tree
from bot.testing.records import Activity, InteractionResult, RestCall
from bot.testing.state import (
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    shard_of,
)

__all__ = [
    "DISPATCH_TASK_PREFIXES",
    "Activity",
    "DiscordHarness",
    "DiscordLimitError",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeHTTPError",
    "FakeMember",
    "FakeMessage",
    "FakeRest",
    "FakeRole",
    "FakeUser",
    "InteractionFailed",
    "InteractionResult",
    "NotOnThisShard",
    "RefusedByClient",
    "RestCall",
    "check_commands",
    "check_tree",
    "offline",
    "on_shard",
    "shard_of",
]
