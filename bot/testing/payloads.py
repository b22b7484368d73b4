"""Builders of the dicts Discord sends (gateway events and REST answers), from the fake world.

Kept apart from the world so the shapes can be checked against discord.py's parsers in one
place; every key discord.py reads with ``data[...]`` is present.
"""

from __future__ import annotations

from typing import Any

from bot.testing.state import (
    CHANNEL_DM,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
)

#: Discord's default upload limit for a guild without boosts (bytes).
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
#: Interaction context types: guild, bot DM, private channel.
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1


def user_payload(user: FakeUser) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.name,
        "global_name": user.global_name,
        "discriminator": "0",
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
        "flags": 0,
    }


def member_payload(
    member: FakeMember, *, user: bool = True, permissions: int | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "roles": [str(r) for r in member.role_ids],
        "nick": member.nick,
        "avatar": None,
        "joined_at": member.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if user:
        payload["user"] = user_payload(member.user)
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def role_payload(role: FakeRole) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(role.id),
        "name": role.name,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.bot_id is not None,
        "mentionable": role.mentionable,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


def channel_payload(channel: FakeChannel, world: FakeDiscord | None = None) -> dict[str, Any]:
    if channel.type == CHANNEL_DM:
        recipients = []
        if world is not None and channel.recipient_id is not None:
            recipients = [user_payload(world.users[channel.recipient_id])]
        return {
            "id": str(channel.id),
            "type": CHANNEL_DM,
            "last_message_id": None,
            "recipients": recipients,
            "flags": 0,
        }
    return {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": channel.topic,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def guild_create_payload(world: FakeDiscord, guild: FakeGuild) -> dict[str, Any]:
    """GUILD_CREATE with every member, so member_count == len(members) and no chunking is asked."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "owner_id": str(guild.owner_id),
        "unavailable": False,
        "large": False,
        "member_count": len(guild.members),
        "roles": [role_payload(r) for r in guild.roles.values()],
        "members": [member_payload(m) for m in guild.members.values()],
        "channels": [channel_payload(c) for c in guild.channels.values()],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "system_channel_flags": 0,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "afk_timeout": 300,
        "joined_at": guild.members[world.bot_user.id].joined_at,
    }


def ready_payload(world: FakeDiscord, shard: tuple[int, int] | None = None) -> dict[str, Any]:
    """READY; for a shard ``(shard_id, shard_count)``, with only that shard's guilds."""
    guilds = list(world.guilds) if shard is None else [g.id for g in world.guilds_on_shard(*shard)]
    payload: dict[str, Any] = {
        "v": 10,
        "user": user_payload(world.bot_user),
        "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
        "session_id": "fake-session" if shard is None else f"fake-session-{shard[0]}",
        "resume_gateway_url": "wss://gateway.invalid",
        "application": {"id": str(world.application_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
    }
    if shard is not None:
        payload["shard"] = list(shard)
    return payload


def application_payload(world: FakeDiscord) -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(world.application_id),
        "name": world.bot_user.name,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(world.owner),
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
        "summary": "",
        "rpc_origins": [],
        "interactions_endpoint_url": None,
        "bot": user_payload(world.bot_user),
    }


def message_payload(world: FakeDiscord, message: FakeMessage) -> dict[str, Any]:
    author = world.users.get(message.author_id)
    payload: dict[str, Any] = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "type": message.type,
        "content": message.content,
        "author": user_payload(author) if author else {"id": str(message.author_id)},
        "timestamp": message.timestamp,
        "edited_timestamp": message.edited_timestamp,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": list(message.attachments),
        "embeds": list(message.embeds),
        "components": list(message.components),
        "pinned": False,
        "flags": message.flags,
    }
    if message.guild_id is not None:
        payload["guild_id"] = str(message.guild_id)
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
        payload["application_id"] = str(world.application_id)
    if message.interaction_id is not None and message.interaction_user_id is not None:
        user = world.users.get(message.interaction_user_id)
        payload["interaction_metadata"] = {
            "id": str(message.interaction_id),
            "type": message.interaction_type or 2,
            "user": user_payload(user) if user else {"id": str(message.interaction_user_id)},
            "authorizing_integration_owners": {"0": str(message.guild_id or 0)},
        }
    return payload


def interaction_payload(
    world: FakeDiscord,
    *,
    interaction_id: int,
    token: str,
    type: int,
    user: FakeUser,
    channel: FakeChannel,
    data: dict[str, Any] | None,
    message: FakeMessage | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE body with the fields discord.py 2.7 requires."""
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": type,
        "token": token,
        "version": 1,
        "locale": locale,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "channel_id": str(channel.id),
    }
    if data is not None:
        payload["data"] = data
    if channel.guild_id is not None:
        guild = world.guilds[channel.guild_id]
        member = guild.members[user.id]
        payload["guild_id"] = str(guild.id)
        payload["guild_locale"] = "en-US"
        payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        payload["member"] = member_payload(member, permissions=guild.permissions_of(user.id))
        payload["app_permissions"] = str(guild.permissions_of(world.bot_user.id))
        payload["channel"] = channel_payload(channel)
        payload["context"] = CONTEXT_GUILD
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
    else:
        payload["user"] = user_payload(user)
        payload["app_permissions"] = "0"
        payload["channel"] = channel_payload(channel, world)
        payload["context"] = CONTEXT_BOT_DM
        payload["authorizing_integration_owners"] = {"1": str(user.id)}
    if message is not None:
        payload["message"] = message_payload(world, message)
    return payload
