"""A small in-memory model of what Discord knows: guilds, roles, members, channels, messages.

The fake REST layer applies the bot's calls to it, tests and the sandbox read it back, and the
payload builders turn it into the dicts Discord sends, so one model serves all three.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

#: Permission bits the harness reasons about (Discord's values).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_ROLES = 1 << 28
ALL_PERMISSIONS = (1 << 51) - 1
#: What @everyone can do in a fresh guild (view, send, read history, use commands...).
DEFAULT_EVERYONE_PERMISSIONS = 0x0000_0006_3779_FE41 & ~(
    ADMINISTRATOR | MANAGE_GUILD | MANAGE_ROLES
)

MESSAGE_FLAG_EPHEMERAL = 64
MESSAGE_FLAG_LOADING = 128

CHANNEL_TEXT = 0
CHANNEL_DM = 1


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord puts a guild on: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass(eq=False)
class FakeUser:
    """A Discord account; members of several guilds share one."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    #: False makes every DM to this user fail as Discord does (403, code 50007).
    dms_open: bool = True

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    position: int
    permissions: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    #: Set for the role Discord creates for a bot when it joins (managed, tagged with bot_id).
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def bot(self) -> bool:
        return self.user.bot

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def roles(self) -> list[int]:
        """Role ids, @everyone excluded, as Discord lists them."""
        return list(self.role_ids)


@dataclass(eq=False)
class FakeChannel:
    id: int
    name: str
    type: int = CHANNEL_TEXT
    guild_id: int | None = None
    position: int = 0
    #: For DM channels: the member on the other side.
    recipient_id: int | None = None
    topic: str | None = None


@dataclass(eq=False)
class FakeMessage:
    """A message as Discord stores it; payload fields are kept as the bot sent them."""

    id: int
    channel_id: int
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    guild_id: int | None = None
    #: Only this user sees an ephemeral message.
    ephemeral_to: int | None = None
    #: The interaction whose response this is (original or followup).
    interaction_id: int | None = None
    interaction_type: int | None = None
    interaction_user_id: int | None = None
    webhook_id: int | None = None
    timestamp: str = field(default_factory=_now_iso)
    edited_timestamp: str | None = None
    deleted: bool = False
    #: Every state this message went through, oldest first (content, embeds, components, flags).
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MESSAGE_FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still "Bot is thinking…": deferred and not yet edited or followed up."""
        return bool(self.flags & MESSAGE_FLAG_LOADING)

    def visible_to(self, user_id: int) -> bool:
        return not self.deleted and (self.ephemeral_to is None or self.ephemeral_to == user_id)

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """Every component at any depth (rows, sections' accessories, containers)."""
        return iter_components(self.components)

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        for component in self.iter_components():
            if component.get("custom_id") == custom_id:
                return component
        return None

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    def snapshot(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": self.embeds,
            "components": self.components,
            "flags": self.flags,
        }


def iter_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        children = component.get("components")
        if children:
            yield from iter_components(children)
        accessory = component.get("accessory")
        if accessory:
            yield accessory
        inner = component.get("component")
        if inner:
            yield inner


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    bot_role_id: int | None = None
    world: FakeDiscord | None = field(default=None, repr=False)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def bot_role(self) -> FakeRole:
        assert self.bot_role_id is not None
        return self.roles[self.bot_role_id]

    def _world(self) -> FakeDiscord:
        assert self.world is not None, "guild not attached to a FakeDiscord"
        return self.world

    def add_role(
        self,
        name: str,
        *,
        position: int | None = None,
        permissions: int = 0,
        color: int = 0,
        hoist: bool = False,
    ) -> FakeRole:
        """Add a role; by default just below the bot's role, where the bot can manage it."""
        if position is None:
            position = self.bot_role.position if self.bot_role_id is not None else len(self.roles)
        for role in self.roles.values():
            if role.id != self.id and role.position >= position:
                role.position += 1
        role = FakeRole(
            id=self._world().new_id(),
            guild_id=self.id,
            name=name,
            position=position,
            permissions=permissions,
            color=color,
            hoist=hoist,
        )
        self.roles[role.id] = role
        return role

    def role(self, name_or_id: str | int) -> FakeRole:
        if isinstance(name_or_id, int):
            return self.roles[name_or_id]
        for role in self.roles.values():
            if role.name == name_or_id:
                return role
        raise KeyError(f"no role named {name_or_id!r} in guild {self.name!r}")

    def add_member(
        self,
        name: str | FakeUser,
        *,
        roles: Iterable[FakeRole | int] = (),
        bot: bool = False,
        dms_open: bool = True,
        nick: str | None = None,
    ) -> FakeMember:
        world = self._world()
        if isinstance(name, FakeUser):
            user = name
        else:
            user = world.add_user(name, bot=bot, dms_open=dms_open)
        member = FakeMember(
            user=user,
            guild_id=self.id,
            role_ids=[r if isinstance(r, int) else r.id for r in roles],
            nick=nick,
        )
        self.members[user.id] = member
        return member

    def remove_member(self, member_id: int) -> None:
        del self.members[member_id]

    def add_text_channel(self, name: str, *, topic: str | None = None) -> FakeChannel:
        world = self._world()
        channel = FakeChannel(
            id=world.new_id(),
            name=name,
            type=CHANNEL_TEXT,
            guild_id=self.id,
            position=len(self.channels),
            topic=topic,
        )
        self.channels[channel.id] = channel
        world.channels[channel.id] = channel
        return channel

    def channel(self, name_or_id: str | int) -> FakeChannel:
        if isinstance(name_or_id, int):
            return self.channels[name_or_id]
        for channel in self.channels.values():
            if channel.name == name_or_id:
                return channel
        raise KeyError(f"no channel named {name_or_id!r} in guild {self.name!r}")

    def top_role_position(self, member_id: int) -> int:
        member = self.members[member_id]
        return max((self.roles[r].position for r in member.role_ids if r in self.roles), default=0)

    def permissions_of(self, member_id: int) -> int:
        """Guild-level permissions, as Discord computes them (no channel overwrites)."""
        if member_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members[member_id]
        value = self.everyone.permissions
        for role_id in member.role_ids:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        if value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value


class FakeDiscord:
    """The fake world: the bot's application, its user, guilds, DMs and every message.

    Ids are snowflakes whose timestamps are "now", so discord.py's ``created_at`` makes sense.
    """

    def __init__(self, *, bot_name: str = "Storefront", application_id: int | None = None) -> None:
        #: Counting from a random point: two fake worlds (two sandbox processes on one
        #: database) practically never make the same id in the same millisecond, which
        #: the interaction claims would read as one interaction delivered twice.
        self._sequence = itertools.count(random.randrange(1 << 21))
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        #: Per channel, by id in the order posted (a dict, so forgetting one is cheap).
        self._channel_messages: dict[int, dict[int, FakeMessage]] = {}
        self._dm_channels: dict[int, FakeChannel] = {}
        self.owner = self.add_user("app-owner")
        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = application_id if application_id is not None else self.bot_user.id
        #: Commands as last synced, keyed by guild id (None = global); each dict has its "id".
        self.commands: dict[int | None, list[dict[str, Any]]] = {}

    def new_id(self, *, age: float = 0.0) -> int:
        """A unique snowflake stamped now, or `age` seconds ago (an interaction that
        reached the bot late); the low 22 bits count, so ids made later sort later."""
        stamp = int((time.time() - age) * 1000) - DISCORD_EPOCH_MS
        return (stamp << 22) | (next(self._sequence) & 0x3FFFFF)

    def _id_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A snowflake a few milliseconds old at most, whose guild would live on that shard."""
        stamp = int(time.time() * 1000) - DISCORD_EPOCH_MS
        stamp -= (stamp - shard_id) % shard_count
        return (stamp << 22) | (next(self._sequence) & 0x3FFFFF)

    def add_user(self, name: str, *, bot: bool = False, dms_open: bool = True) -> FakeUser:
        user = FakeUser(id=self.new_id(), name=name, bot=bot, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        owner: FakeUser | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = MANAGE_ROLES | (1 << 11) | (1 << 10),
        channels: Iterable[str] = ("general",),
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild the bot has joined: @everyone, the bot's managed role and member.

        ``shard=(shard_id, shard_count)`` gives it an id Discord would put on that shard.
        """
        guild_owner = owner or self.add_user(f"{name}-owner")
        if shard is not None:
            shard_id, shard_count = shard
            if not 0 <= shard_id < shard_count:
                raise ValueError(f"shard {shard_id} outside 0..{shard_count - 1}")
            guild_id = self._id_on_shard(shard_id, shard_count)
        else:
            guild_id = self.new_id()
        guild = FakeGuild(id=guild_id, name=name, owner_id=guild_owner.id, world=self)
        guild.roles[guild.id] = FakeRole(
            id=guild.id,
            guild_id=guild.id,
            name="@everyone",
            position=0,
            permissions=everyone_permissions,
        )
        bot_role = FakeRole(
            id=self.new_id(),
            guild_id=guild.id,
            name=self.bot_user.name,
            position=1,
            permissions=bot_permissions,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        self.guilds[guild.id] = guild
        guild.add_member(guild_owner)
        guild.add_member(self.bot_user, roles=[bot_role])
        for channel_name in channels:
            guild.add_text_channel(channel_name)
        return guild

    # -- look-ups -------------------------------------------------------------------------

    @property
    def guild(self) -> FakeGuild:
        """The only guild, for the common single-guild test."""
        if len(self.guilds) != 1:
            raise LookupError(f"world has {len(self.guilds)} guilds; pick one from .guilds")
        return next(iter(self.guilds.values()))

    def guilds_on_shard(self, shard_id: int, shard_count: int) -> list[FakeGuild]:
        """The guilds Discord sends to that shard."""
        return [g for g in self.guilds.values() if shard_of(g.id, shard_count) == shard_id]

    def member(self, member_id: int, guild_id: int | None = None) -> FakeMember:
        if guild_id is not None:
            return self.guilds[guild_id].members[member_id]
        for guild in self.guilds.values():
            member = guild.members.get(member_id)
            if member is not None:
                return member
        raise KeyError(f"no member {member_id}")

    def user(self, user_id: int) -> FakeUser:
        return self.users[user_id]

    def channel(self, channel_id: int) -> FakeChannel:
        return self.channels[channel_id]

    def message(self, message_id: int) -> FakeMessage:
        return self.messages[message_id]

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The bot's DM channel with a user, opened on first use as Discord does."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            user = self.users[user_id]
            channel = FakeChannel(
                id=self.new_id(), name=user.name, type=CHANNEL_DM, recipient_id=user_id
            )
            self._dm_channels[user_id] = channel
            self.channels[channel.id] = channel
        return channel

    def dms(self, user_id: int) -> list[FakeMessage]:
        """Messages in the bot's DM with this user, oldest first (deleted ones left out)."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            return []
        return self.channel_messages(channel.id)

    def channel_messages(
        self, channel_id: int, *, visible_to: int | None = None, include_ephemeral: bool = True
    ) -> list[FakeMessage]:
        """Messages in a channel, oldest first; ``visible_to`` shows what that member would see."""
        found = []
        for message in self._channel_messages.get(channel_id, {}).values():
            if message.deleted:
                continue
            if visible_to is not None and not message.visible_to(visible_to):
                continue
            if not include_ephemeral and message.ephemeral_to is not None:
                continue
            found.append(message)
        return found

    # -- changes (used by the fake REST layer) -----------------------------------------------

    def add_message(self, message: FakeMessage) -> FakeMessage:
        message.history.append(message.snapshot())
        self.messages[message.id] = message
        self._channel_messages.setdefault(message.channel_id, {})[message.id] = message
        return message

    def post_message(
        self,
        channel: FakeChannel | int,
        content: str = "",
        *,
        embeds: Iterable[dict[str, Any]] = (),
        components: Iterable[dict[str, Any]] = (),
        author: FakeUser | None = None,
    ) -> FakeMessage:
        """A message already in a channel (e.g. a panel the bot posted before a restart)."""
        channel_id = channel if isinstance(channel, int) else channel.id
        return self.add_message(
            FakeMessage(
                id=self.new_id(),
                channel_id=channel_id,
                author_id=(author or self.bot_user).id,
                content=content,
                embeds=list(embeds),
                components=list(components),
                guild_id=self.channels[channel_id].guild_id,
            )
        )

    def edit_message(self, message: FakeMessage, body: dict[str, Any]) -> FakeMessage:
        """Apply a PATCH body: keys present replace, keys absent stay, as Discord does."""
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        if "attachments" in body:
            message.attachments = list(body["attachments"] or [])
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS (4) and IS_COMPONENTS_V2 may change on edit; the rest are kept.
            mutable = 4 | (1 << 15)
            message.flags = (message.flags & ~mutable) | (int(body["flags"]) & mutable)
        message.flags &= ~MESSAGE_FLAG_LOADING
        message.edited_timestamp = _now_iso()
        message.history.append(message.snapshot())
        return message

    def delete_message(self, message: FakeMessage) -> None:
        message.deleted = True

    def forget_message(self, message: FakeMessage) -> None:
        """Drop a message from the world altogether, as if it had never been stored.

        Unlike ``delete_message`` nothing is left behind (a later edit or fetch gets Unknown
        Message); a long benchmark uses it for replies it has read, to bound the world's memory.
        """
        self.messages.pop(message.id, None)
        in_channel = self._channel_messages.get(message.channel_id)
        if in_channel is not None:
            in_channel.pop(message.id, None)

    def reset_messages(self) -> None:
        """Forget every message (the benchmark calls this between phases to bound memory)."""
        self.messages.clear()
        self._channel_messages.clear()
