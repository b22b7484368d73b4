"""The simulated guild, built from `[sandbox]` with stable ids.

Ids come from configuration (guild, members) or are derived from the guild id
(roles, channels), so carts and memberships in the database still belong to the
same members after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from bot.testing import FakeChannel, FakeDiscord, FakeGuild, FakeRole, FakeUser

MODERATOR_ROLE_NAME = "Shop moderator"
TIER_COLOURS = (0xF1C40F, 0x9B59B6, 0x1ABC9C, 0xE67E22, 0x3498DB)


@dataclass(frozen=True)
class SandboxLayout:
    guild: FakeGuild
    general: FakeChannel
    audit: FakeChannel
    moderator_role: FakeRole
    tier_roles: dict[str, int]
    members: dict[str, int]


def build_world(settings: Settings) -> tuple[FakeDiscord, SandboxLayout]:
    world = FakeDiscord(bot_name=settings.store.name[:32] or "Storefront")
    config = settings.sandbox
    guild = world.add_guild(config.guild_name, channels=())
    # Re-key the guild under the configured id so shop data survives restarts.
    _rekey_guild(world, guild, config.guild_id)
    tier_roles: dict[str, int] = {}
    for index, (tier, tier_config) in enumerate(sorted(settings.memberships.items())):
        role = _role(guild, tier.title(), config.guild_id + 10 + index, TIER_COLOURS[index % 5])
        tier_roles[tier] = tier_config.role_id or role.id
        if tier_config.role_id and tier_config.role_id != role.id:
            _move_role(guild, role, tier_config.role_id)
    moderator = _role(guild, MODERATOR_ROLE_NAME, config.guild_id + 9, 0xE74C3C)
    general = _channel(world, guild, "general", config.guild_id + 100)
    audit = _channel(world, guild, "shop-audit", config.guild_id + 101)
    members: dict[str, int] = {}
    for entry in config.members:
        user = FakeUser(id=entry.id, name=entry.name)
        world.users[user.id] = user
        roles = [r for r in entry.roles if r in guild.roles]
        if entry.moderator:
            roles.append(moderator.id)
        guild.add_member(user, roles=roles)
        members[entry.name] = entry.id
    return world, SandboxLayout(guild, general, audit, moderator, tier_roles, members)


def sandbox_settings(settings: Settings, layout: SandboxLayout) -> Settings:
    """The same settings, pointed at the simulated guild's roles and channels."""
    data = settings.model_dump(mode="python")
    # Items as written: a default dumped would read as set (a subscription's giftable).
    data["store"]["items"] = [
        item.model_dump(mode="python", exclude_unset=True) for item in settings.store.items
    ]
    data["discord"]["token"] = None
    data["discord"]["guild_ids"] = [layout.guild.id]
    data["discord"]["moderator_role_ids"] = [layout.moderator_role.id]
    data["discord"]["audit_channel_id"] = layout.audit.id
    # One simulated guild in one process: shards would only hide it from some processes.
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
