"""The simulated guilds, built from `[sandbox]` with stable ids.

Two guilds, each its own shop, so a developer sees at once that carts, catalogs and
currencies belong to a guild. Ids come from configuration (guilds, members) or are
derived from the guild's id (roles, channels), so carts and memberships in the
database still belong to the same members after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import SandboxGuildKey, Settings
from bot.testing import FakeChannel, FakeDiscord, FakeGuild, FakeRole, FakeUser

MODERATOR_ROLE_NAME = "Shop moderator"
TIER_COLOURS = (0xF1C40F, 0x9B59B6, 0x1ABC9C, 0xE67E22, 0x3498DB)


@dataclass(frozen=True)
class SandboxGuild:
    """One simulated guild and what the sandbox knows of it."""

    key: SandboxGuildKey
    guild: FakeGuild
    general: FakeChannel
    audit: FakeChannel
    moderator_role: FakeRole
    tier_roles: dict[str, int]
    #: The configured members in this guild, by name.
    members: dict[str, int]

    @property
    def id(self) -> int:
        return self.guild.id

    def channel_ids(self) -> tuple[int, int]:
        return self.general.id, self.audit.id


@dataclass(frozen=True)
class SandboxLayout:
    """The guilds, the first (`[sandbox]`, the file's shop) before the second."""

    guilds: tuple[SandboxGuild, ...]

    @property
    def first(self) -> SandboxGuild:
        return self.guilds[0]

    @property
    def second(self) -> SandboxGuild:
        return self.guilds[1]

    # The first guild's parts, as they were named when there was only one.
    @property
    def guild(self) -> FakeGuild:
        return self.first.guild

    @property
    def general(self) -> FakeChannel:
        return self.first.general

    @property
    def audit(self) -> FakeChannel:
        return self.first.audit

    @property
    def moderator_role(self) -> FakeRole:
        return self.first.moderator_role

    @property
    def tier_roles(self) -> dict[str, int]:
        return self.first.tier_roles

    @property
    def members(self) -> dict[str, int]:
        """Every configured member, of either guild, by name."""
        found: dict[str, int] = {}
        for guild in self.guilds:
            found.update(guild.members)
        return found

    def by_id(self, guild_id: int) -> SandboxGuild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def by_channel(self, channel_id: int) -> SandboxGuild | None:
        return next((g for g in self.guilds if channel_id in g.channel_ids()), None)


def build_world(settings: Settings) -> tuple[FakeDiscord, SandboxLayout]:
    world = FakeDiscord(bot_name=settings.store.name[:32] or "Storefront")
    config = settings.sandbox
    guilds = (
        _build_guild(world, settings, "first", config.guild_id, config.guild_name),
        _build_guild(world, settings, "second", config.second_guild_id, config.second_guild_name),
    )
    return world, SandboxLayout(guilds)


def _build_guild(
    world: FakeDiscord, settings: Settings, key: SandboxGuildKey, guild_id: int, name: str
) -> SandboxGuild:
    guild = world.add_guild(name, channels=())
    # Re-key the guild under the configured id so shop data survives restarts.
    _rekey_guild(world, guild, guild_id)
    tier_roles: dict[str, int] = {}
    for index, (tier, tier_config) in enumerate(sorted(settings.memberships.items())):
        role = _role(guild, tier.title(), guild_id + 10 + index, TIER_COLOURS[index % 5])
        tier_roles[tier] = role.id
        # The file's role ids are the first guild's (the file's shop); the second
        # guild's shop is pointed at its own roles when the sandbox sets it up.
        if key == "first" and tier_config.role_id:
            tier_roles[tier] = tier_config.role_id
            if tier_config.role_id != role.id:
                _move_role(guild, role, tier_config.role_id)
    moderator = _role(guild, MODERATOR_ROLE_NAME, guild_id + 9, 0xE74C3C)
    general = _channel(world, guild, "general", guild_id + 100)
    audit = _channel(world, guild, "shop-audit", guild_id + 101)
    members: dict[str, int] = {}
    for entry in settings.sandbox.members:
        if key not in entry.guilds:
            continue
        user = world.users.get(entry.id) or FakeUser(id=entry.id, name=entry.name)
        world.users[user.id] = user
        roles = [r for r in entry.roles if r in guild.roles]
        if entry.moderator:
            roles.append(moderator.id)
        guild.add_member(user, roles=roles)
        members[entry.name] = entry.id
    return SandboxGuild(key, guild, general, audit, moderator, tier_roles, members)


def sandbox_settings(settings: Settings, layout: SandboxLayout) -> Settings:
    """The same settings, serving both guilds, pointed at the first guild's roles and
    channels (the file's shop is the first guild's; the second's is set up apart)."""
    data = settings.model_dump(mode="python")
    # Items as written: a default dumped would read as set (a subscription's giftable).
    data["store"]["items"] = [
        item.model_dump(mode="python", exclude_unset=True) for item in settings.store.items
    ]
    data["discord"]["token"] = None
    data["discord"]["guild_ids"] = [guild.id for guild in layout.guilds]
    data["discord"]["moderator_role_ids"] = [layout.moderator_role.id]
    data["discord"]["audit_channel_id"] = layout.audit.id
    # Simulated guilds in one process: shards would only hide them from some processes.
    data["discord"]["shard_count"] = data["discord"]["shard_ids"] = None
    for tier, role_id in layout.tier_roles.items():
        data["memberships"][tier]["role_id"] = role_id
    result = Settings(**data)
    result._source = settings.source
    return result


def _rekey_guild(world: FakeDiscord, guild: FakeGuild, guild_id: int) -> None:
    old = guild.id
    del world.guilds[old]
    everyone = guild.roles.pop(old)
    everyone.id = guild_id
    guild.id = guild_id
    guild.roles[guild_id] = everyone
    for role in guild.roles.values():
        role.guild_id = guild_id
    for member in guild.members.values():
        member.guild_id = guild_id
    world.guilds[guild_id] = guild


def _role(guild: FakeGuild, name: str, role_id: int, colour: int) -> FakeRole:
    role = guild.add_role(name, color=colour)
    _move_role(guild, role, role_id)
    return role


def _move_role(guild: FakeGuild, role: FakeRole, role_id: int) -> None:
    del guild.roles[role.id]
    role.id = role_id
    guild.roles[role_id] = role


def _channel(world: FakeDiscord, guild: FakeGuild, name: str, channel_id: int) -> FakeChannel:
    channel = guild.add_text_channel(name)
    del world.channels[channel.id]
    guild.channels.pop(channel.id, None)
    channel.id = channel_id
    world.channels[channel_id] = channel
    guild.channels[channel_id] = channel
    return channel
