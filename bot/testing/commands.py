"""Turns ``harness.slash(member, "cart", "add", item="x")`` into the data Discord's client sends.

The shape comes from the bot's own tree (``cmd.to_dict(tree)``, what Discord would have
registered), so option types are right, and anything Discord's client would refuse to send
(unknown command or option, missing required option, wrong type, out of range, not among the
choices) raises ``RefusedByClient`` in the test instead of reaching the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands

from bot.testing import payloads
from bot.testing.state import FakeChannel, FakeDiscord, FakeMember, FakeRole, FakeUser

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
_MAX_SAFE_INTEGER = 2**53


class RefusedByClient(AssertionError):
    """Discord's client would never send this interaction."""


def _user_of(value: Any, world: FakeDiscord) -> FakeUser | None:
    if isinstance(value, FakeMember):
        return value.user
    if isinstance(value, FakeUser):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return world.users.get(value)
    return None


class Resolver:
    """Collects the ``resolved`` block for users, members, roles, channels and attachments."""

    def __init__(self, world: FakeDiscord, guild_id: int | None, user_id: int) -> None:
        self.world = world
        self.guild_id = guild_id
        self.user_id = user_id
        self.data: dict[str, dict[str, Any]] = {}

    def user(self, value: Any, where: str) -> str:
        user = _user_of(value, self.world)
        if user is None:
            raise RefusedByClient(f"{where}: {value!r} is not a user of the fake world")
        self.data.setdefault("users", {})[str(user.id)] = payloads.user_payload(user)
        if self.guild_id is not None:
            guild = self.world.guilds[self.guild_id]
            member = guild.members.get(user.id)
            if member is not None:
                self.data.setdefault("members", {})[str(user.id)] = payloads.member_payload(
                    member, user=False, permissions=guild.permissions_of(user.id)
                )
        return str(user.id)

    def role(self, value: Any, where: str) -> str:
        role = value if isinstance(value, FakeRole) else None
        if role is None and self.guild_id is not None and isinstance(value, int):
            role = self.world.guilds[self.guild_id].roles.get(value)
        if role is None or role.guild_id != self.guild_id:
            raise RefusedByClient(f"{where}: {value!r} is not a role of this guild")
        self.data.setdefault("roles", {})[str(role.id)] = payloads.role_payload(role)
        return str(role.id)

    def channel(self, value: Any, where: str, types: list[int] | None) -> str:
        channel = value if isinstance(value, FakeChannel) else None
        if channel is None and isinstance(value, int):
            channel = self.world.channels.get(value)
        if channel is None or channel.guild_id != self.guild_id:
            raise RefusedByClient(f"{where}: {value!r} is not a channel of this guild")
        if types and channel.type not in types:
            raise RefusedByClient(f"{where}: channel type {channel.type} not in {types}")
        data = payloads.channel_payload(channel)
        guild = self.world.guilds[channel.guild_id] if channel.guild_id is not None else None
        data["permissions"] = str(guild.permissions_of(self.user_id) if guild else 0)
        self.data.setdefault("channels", {})[str(channel.id)] = data
        return str(channel.id)

    def attachment(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise RefusedByClient(f"{where}: give an attachment as its file name")
        attachment_id = str(self.world.new_id())
        url = f"https://cdn.invalid/attachments/{attachment_id}/{value}"
        self.data.setdefault("attachments", {})[attachment_id] = {
            "id": attachment_id,
            "filename": value,
            "size": 0,
            "url": url,
            "proxy_url": url,
        }
        return attachment_id


def _check_choice(option: dict[str, Any], value: Any, where: str) -> None:
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        names = [c["value"] for c in choices]
        raise RefusedByClient(f"{where}: {value!r} is not among the choices {names}")


def convert_option(option: dict[str, Any], value: Any, resolver: Resolver, where: str) -> Any:
    """The option value as Discord's client sends it, or RefusedByClient."""
    kind = option["type"]
    if kind == STRING:
        if not isinstance(value, str):
            raise RefusedByClient(f"{where}: expected a string, got {value!r}")
        low, high = option.get("min_length", 0), option.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise RefusedByClient(f"{where}: length {len(value)} outside {low}-{high}")
        _check_choice(option, value, where)
        return value
    if kind in (INTEGER, NUMBER):
        number_types: tuple[type, ...] = (int,) if kind == INTEGER else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_types):
            expected = "an integer" if kind == INTEGER else "a number"
            raise RefusedByClient(f"{where}: expected {expected}, got {value!r}")
        low = option.get("min_value", -_MAX_SAFE_INTEGER)
        high = option.get("max_value", _MAX_SAFE_INTEGER)
        if not low <= value <= high:
            raise RefusedByClient(f"{where}: {value!r} outside {low}..{high}")
        _check_choice(option, value, where)
        return value
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise RefusedByClient(f"{where}: expected a boolean, got {value!r}")
        return value
    if kind == USER:
        return resolver.user(value, where)
    if kind == ROLE:
        return resolver.role(value, where)
    if kind == MENTIONABLE:
        if isinstance(value, FakeRole):
            return resolver.role(value, where)
        return resolver.user(value, where)
    if kind == CHANNEL:
        return resolver.channel(value, where, option.get("channel_types"))
    if kind == ATTACHMENT:
        return resolver.attachment(value, where)
    raise RefusedByClient(f"{where}: option type {kind} is not supported by the harness")


class CommandCatalog:
    """The bot's slash commands as Discord knows them, with stable fake ids."""

    def __init__(self, tree: app_commands.CommandTree[Any], world: FakeDiscord) -> None:
        self.tree = tree
        self.world = world
        self._ids: dict[tuple[int | None, str], int] = {}
        self._dicts: dict[int, tuple[Any, dict[str, Any]]] = {}

    def lookup(self, name: str, guild_id: int | None) -> tuple[dict[str, Any], int | None]:
        """The command's registered payload and the guild it is registered in (None = global)."""
        command: Any = None
        scope: int | None = None
        if guild_id is not None:
            command = self.tree.get_command(name, guild=discord.Object(guild_id))
            scope = guild_id
        if command is None:
            command = self.tree.get_command(name)
            scope = None
        if command is None:
            raise RefusedByClient(f"no slash command /{name} is registered")
        cached = self._dicts.get(id(command))
        if cached is None or cached[0] is not command:
            cached = (command, command.to_dict(self.tree))
            self._dicts[id(command)] = cached
        return cached[1], scope

    def command_id(self, name: str, scope: int | None) -> int:
        key = (scope, name)
        command_id = self._ids.get(key)
        if command_id is None:
            synced = [c for c in self.world.commands.get(scope, []) if c["name"] == name]
            command_id = int(synced[0]["id"]) if synced else self.world.new_id()
            self._ids[key] = command_id
        return command_id

    def build(
        self,
        name: str,
        path: tuple[str, ...],
        values: Mapping[str, Any],
        *,
        guild_id: int | None,
        user_id: int,
        focused: str | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of a slash command (with ``focused``: autocomplete) interaction."""
        spec, scope = self.lookup(name, guild_id)
        if guild_id is None and spec.get("contexts") is not None and 1 not in spec["contexts"]:
            raise RefusedByClient(f"/{name} cannot be used in DMs")
        if guild_id is None and spec.get("dm_permission") is False:
            raise RefusedByClient(f"/{name} cannot be used in DMs")
        resolver = Resolver(self.world, guild_id, user_id)
        leaf = spec
        chain: list[dict[str, Any]] = []
        for part in path:
            children = {o["name"]: o for o in leaf.get("options", []) if o["type"] in (1, 2)}
            if part not in children:
                raise RefusedByClient(
                    f"/{name} has no subcommand {part!r} (has {sorted(children)})"
                )
            leaf = children[part]
            chain.append(leaf)
        if any(o["type"] in (1, 2) for o in leaf.get("options", [])):
            subs = sorted(o["name"] for o in leaf["options"])
            raise RefusedByClient(f"/{' '.join((name, *path))} needs a subcommand: one of {subs}")
        full = " ".join((name, *path))
        specs = {o["name"]: o for o in leaf.get("options", [])}
        unknown = set(values) - set(specs)
        if unknown:
            raise RefusedByClient(
                f"/{full}: unknown options {sorted(unknown)} (has {sorted(specs)})"
            )
        options: list[dict[str, Any]] = []
        for option_name, option in specs.items():
            where = f"/{full} {option_name}"
            if option_name == focused:
                value = values.get(option_name, "")
                if not option.get("autocomplete"):
                    raise RefusedByClient(f"{where}: option has no autocomplete")
                options.append(
                    {
                        "name": option_name,
                        "type": option["type"],
                        "value": str(value),
                        "focused": True,
                    }
                )
                continue
            if option_name not in values:
                if option.get("required") and focused is None:
                    raise RefusedByClient(f"{where}: required option missing")
                continue
            value = values[option_name]
            converted = convert_option(option, value, resolver, where)
            options.append({"name": option_name, "type": option["type"], "value": converted})
        if focused is not None and focused not in specs:
            raise RefusedByClient(f"/{full}: no option {focused!r} to autocomplete")
        for parent in reversed(chain):
            options = [{"name": parent["name"], "type": parent["type"], "options": options}]
        data: dict[str, Any] = {
            "id": str(self.command_id(name, scope)),
            "name": name,
            "type": 1,
            "options": options,
        }
        if resolver.data:
            data["resolved"] = resolver.data
        if scope is not None:
            data["guild_id"] = str(scope)
        return data
