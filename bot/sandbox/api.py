"""The sandbox's JSON API and page, served by the storefront's own web app.

The page uses exactly this API, so anything a person does in the browser can be
scripted: run a slash command as a member, press a component, submit a modal,
read a channel or a member's DMs, skip the clock ahead. There are two guilds, each
its own shop: a request names its guild (`guild`, or a channel or message, which
belong to one), the first guild when it names none. Bad input is a 4xx with a
message and changes nothing; what the bot answers is what the harness captured from
discord.py. The API acts as whichever member a request names, so other sites' pages
may not call it (403), and it takes only JSON bodies (415).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.runtime import Storefront
from bot.sandbox.world import SandboxGuild, SandboxLayout
from bot.testing import (
    DiscordHarness,
    FakeMember,
    FakeMessage,
    FakeUser,
    InteractionResult,
    RefusedByClient,
)
from bot.web import FLOW_KEY
from bot.workers import Periodic
from payments.fake import FakeGateway
from payments.web_guard import same_site
from store.clock import OffsetClock

STATIC = Path(__file__).with_name("static")
USER, INTEGER, BOOLEAN, NUMBER = 6, 4, 5, 10
SUBCOMMAND, GROUP = 1, 2
#: The most one skip may move the clock: a year of renewals with room to spare.
MAX_SKIP = timedelta(days=400)
#: How long a skip waits for the effects it caused (DMs, roles) before answering.
EFFECTS_WAIT_SECONDS = 10.0


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SandboxApi:
    """Translates HTTP to harness calls; the harness is attached once the bot runs."""

    def __init__(self, layout: SandboxLayout, clock: OffsetClock) -> None:
        self.layout = layout
        self.clock = clock
        self.harness: DiscordHarness | None = None
        self.front: Storefront | None = None
        self._public_url = ""
        self._modals: dict[str, InteractionResult] = {}
        self._skipping = asyncio.Lock()

    def attach(self, harness: DiscordHarness, front: Storefront) -> None:
        """Once serving: the harness for Discord, the storefront for its workers."""
        self.harness = harness
        self.front = front

    def add_routes(self, app: web.Application) -> None:
        """On the storefront's web app (`bot.web.create_web_app`), whose public URL is ours."""
        self._public_url = app[FLOW_KEY].public_url
        app.router.add_get("/sandbox", self._page)
        app.router.add_get("/sandbox/", self._page)
        app.router.add_static("/sandbox/static/", STATIC, show_index=False)
        app.router.add_get("/sandbox/api/state", self._wrap(self.state))
        app.router.add_get("/sandbox/api/channels/{channel_id}/messages", self._wrap(self.channel))
        app.router.add_get("/sandbox/api/members/{member_id}/dms", self._wrap(self.dms))
        app.router.add_post("/sandbox/api/commands", self._wrap(self.command))
        app.router.add_post("/sandbox/api/autocomplete", self._wrap(self.autocomplete))
        app.router.add_post("/sandbox/api/components", self._wrap(self.component))
        app.router.add_post("/sandbox/api/modals", self._wrap(self.modal))
        app.router.add_post("/sandbox/api/clock", self._wrap(self.skip_ahead))

    # ---- handlers -------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    def _wrap(self, handler: Any) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return web.json_response(await handler(request))
            except BadRequest as error:
                return web.json_response({"error": str(error)}, status=error.status)
            except RefusedByClient as error:
                return web.json_response(
                    {"error": f"Discord would not send that: {error}"}, status=400
                )

        return same_site(run, public_url=self._public_url)

    async def state(self, request: web.Request) -> dict[str, Any]:
        """One guild as its members see it (``?guild=<id>``, the first by default), with
        the list of guilds to switch between."""
        harness = self._harness()
        where = self._guild(request.query.get("guild"))
        guild = where.guild
        moderators = {m for m in guild.members.values() if where.moderator_role.id in m.roles}
        members = [
            {
                "id": str(member.id),
                "name": member.name,
                "moderator": member in moderators,
                "roles": [
                    {"id": str(role.id), "name": role.name, "color": role.color}
                    for role_id in member.roles
                    if (role := guild.roles.get(role_id)) is not None
                ],
            }
            for member in guild.members.values()
            if member.id in where.members.values()
        ]
        channels = [
            {"id": str(where.general.id), "name": where.general.name, "moderators_only": False},
            {"id": str(where.audit.id), "name": where.audit.name, "moderators_only": True},
        ]
        shop = await self._front().shop.shops.get(guild.id)
        bot_user = harness.world.bot_user
        return {
            "guild": {"id": str(guild.id), "name": guild.name},
            "guilds": [{"id": str(g.id), "name": g.guild.name} for g in self.layout.guilds],
            "shop": {"name": shop.name, "currency": shop.currency, "locale": shop.locale},
            "members": members,
            "channels": channels,
            "commands": self._commands(),
            "bot": {"id": str(bot_user.id), "name": bot_user.name},
            "clock": self._clock(),
        }

    async def channel(self, request: web.Request) -> dict[str, Any]:
        channel_id = _int(request.match_info["channel_id"], "channel")
        where = self.layout.by_channel(channel_id)
        if where is None:
            raise BadRequest("no such channel", 404)
        member = self._member(request.query.get("member"), where)
        if channel_id == where.audit.id and where.moderator_role.id not in member.roles:
            raise BadRequest("only moderators can read the audit channel", 403)
        messages = self._harness().world.channel_messages(channel_id, visible_to=member.id)
        return {"messages": [self._message(m) for m in messages]}

    async def dms(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request.match_info["member_id"])
        return {"messages": [self._message(m) for m in self._harness().world.dms(user.id)]}

    async def command(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        where, channel = self._where(body)
        member = self._member(body.get("member"), where)
        name, path = self._command_path(body)
        options = self._options(name, path, body.get("options") or {}, where)
        result = await self._harness().slash(
            member, name, *path, channel=channel, options=options, strict=False
        )
        return {"result": self._result(result)}

    async def autocomplete(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        where, channel = self._where(body)
        member = self._member(body.get("member"), where)
        name, path = self._command_path(body)
        focused = body.get("focused")
        if not isinstance(focused, str) or not focused:
            raise BadRequest("'focused' must name the option being typed")
        options = self._options(name, path, body.get("options") or {}, where, partial=True)
        options.setdefault(focused, "")
        result = await self._harness().autocomplete(
            member,
            name,
            *path,
            focused=focused,
            channel=channel,
            options=options,
            strict=False,
        )
        return {"choices": result.choices or []}

    async def component(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        harness = self._harness()
        message_id = _int(body.get("message_id"), "message_id")
        message = harness.world.messages.get(message_id)
        where = self.layout.by_id(message.guild_id) if message and message.guild_id else None
        member = self._acting(body.get("member"), where)
        if message is None or not message.visible_to(member.id):
            raise BadRequest("no such message", 404)
        custom_id = body.get("custom_id")
        if not isinstance(custom_id, str):
            raise BadRequest("'custom_id' must be a string")
        component = message.find_component(custom_id)
        if component is None:
            raise BadRequest("that message has no such component", 404)
        if component.get("type") == 2:
            result = await harness.press(member, message, custom_id, strict=False)
        else:
            values = body.get("values")
            if not isinstance(values, list) or not values:
                raise BadRequest("'values' must be a non-empty list for a select")
            if component.get("type") == 5:
                values = [self._member(v, where or self.layout.first) for v in values]
            result = await harness.select(member, message, custom_id, values, strict=False)
        return {"result": self._result(result)}

    async def modal(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        source = self._modals.get(str(body.get("modal_id")))
        if source is None:
            raise BadRequest("no such modal (it may have been submitted already)", 404)
        where = self.layout.by_id(source.guild_id) if source.guild_id else None
        member = self._acting(body.get("member"), where)
        if source.user_id != member.id:
            raise BadRequest("that modal was shown to another member", 403)
        values = body.get("values") or {}
        if not isinstance(values, dict) or not all(_modal_value(v) for v in values.values()):
            raise BadRequest(
                "'values' must map input ids to text (or, for a select, a list of its values)"
            )
        result = await self._harness().submit_modal(member, source, values, strict=False)
        self._modals.pop(str(body.get("modal_id")), None)
        return {"result": self._result(result)}

    async def skip_ahead(self, request: web.Request) -> dict[str, Any]:
        """Move the clock, then let what that time brings happen before answering.

        The fake gateway bills the periods passed and its webhooks are delivered first,
        so a renewal extends the membership before the expiry pass looks at it; then
        the reminder and expiry passes run and their DMs and role changes are
        delivered, so the caller's next read shows the new state. One skip at a time.
        """
        body = await _body(request)
        by = _skip(body.get("advance"))
        front = self._front()
        async with self._skipping:
            self.clock.advance(by)
            billed = 0
            for gateway in front.flow.gateways.values():
                if isinstance(gateway, FakeGateway):
                    billed += len(gateway.advance_subscriptions())
                    await gateway.drain()
            for name in ("reminders", "expiry"):
                await _worker(front, name).job()
            pending = await self._deliver_effects(front)
        return {"clock": self._clock(), "subscriptions_billed": billed, "effects_pending": pending}

    # ---- helpers --------------------------------------------------------------

    def _front(self) -> Storefront:
        if self.front is None:
            raise BadRequest("the sandbox is still starting", 503)
        return self.front

    def _clock(self) -> dict[str, Any]:
        return {
            "now": self.clock().isoformat(),
            "ahead_seconds": int(self.clock.offset.total_seconds()),
        }

    async def _deliver_effects(self, front: Storefront) -> int:
        """Run the effects worker's job until the outbox is empty; returns what is left.

        The worker, kicked by the same changes, may hold some effects meanwhile: those
        are waited for, up to `EFFECTS_WAIT_SECONDS` (one that keeps failing stays).
        """
        effects = _worker(front, "effects")
        outbox = front.shop.outbox
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EFFECTS_WAIT_SECONDS
        while True:
            await effects.job()
            pending = await outbox.pending_count()
            if pending == 0 or loop.time() >= deadline:
                return pending
            await asyncio.sleep(0.02)

    def _harness(self) -> DiscordHarness:
        if self.harness is None:
            raise BadRequest("the sandbox is still starting", 503)
        return self.harness

    def _guild(self, raw: Any) -> SandboxGuild:
        """The guild a request names; the first when it names none."""
        if raw is None or raw == "":
            return self.layout.first
        found = self.layout.by_id(_int(raw, "guild"))
        if found is None:
            raise BadRequest(f"no sandbox guild with id {raw}", 404)
        return found

    def _where(self, body: dict[str, Any]) -> tuple[SandboxGuild, int]:
        """The guild and channel a command runs in: the channel's guild (which must be
        `guild` when both are given), else `guild`'s #general."""
        guild = self._guild(body.get("guild"))
        raw = body.get("channel")
        if raw is None:
            return guild, guild.general.id
        channel_id = _int(raw, "channel")
        owner = self.layout.by_channel(channel_id)
        if owner is None:
            raise BadRequest("no such channel", 404)
        if body.get("guild") not in (None, "") and owner is not guild:
            raise BadRequest(f"that channel is not in {guild.guild.name}")
        return owner, channel_id

    def _user(self, raw: Any) -> FakeUser:
        """A configured member as a Discord account, whichever guilds they are in."""
        member_id = _int(raw, "member")
        if member_id not in self.layout.members.values():
            raise BadRequest(f"no sandbox member with id {raw}", 404)
        return self._harness().world.users[member_id]

    def _acting(self, raw: Any, where: SandboxGuild | None) -> FakeMember | FakeUser:
        """Who presses or submits: in a guild, that guild's member; in DMs, the user."""
        return self._user(raw) if where is None else self._member(raw, where)

    def _member(self, raw: Any, where: SandboxGuild) -> FakeMember:
        user = self._user(raw)
        member = where.guild.members.get(user.id)
        if member is None or user.id not in where.members.values():
            raise BadRequest(f"{user.name} is not a member of {where.guild.name}", 404)
        return member

    def _commands(self) -> list[dict[str, Any]]:
        tree = self._harness().client.tree  # type: ignore[attr-defined]
        return [command.to_dict(tree) for command in tree.get_commands()]

    def _command_path(self, body: dict[str, Any]) -> tuple[str, list[str]]:
        name = body.get("command")
        path = body.get("path") or []
        if not isinstance(name, str) or not isinstance(path, list):
            raise BadRequest("'command' must be a name and 'path' a list of subcommands")
        if not any(c["name"] == name for c in self._commands()):
            raise BadRequest(f"unknown command /{name}", 404)
        return name, [str(p) for p in path]

    def _options(
        self, name: str, path: list[str], raw: Any, where: SandboxGuild, *, partial: bool = False
    ) -> dict[str, Any]:
        """Turn JSON values into what each option's type wants (members for users...)."""
        if not isinstance(raw, dict):
            raise BadRequest("'options' must be an object")
        spec = self._option_spec(name, path)
        result: dict[str, Any] = {}
        for key, value in raw.items():
            kind = spec.get(key)
            if kind is None:
                raise BadRequest(f"/{' '.join([name, *path])} has no option {key!r}")
            if value is None or value == "":
                if partial:
                    result[key] = value or ""
                continue
            result[key] = self._convert(kind, key, value, where)
        return result

    def _convert(self, kind: int, key: str, value: Any, where: SandboxGuild) -> Any:
        try:
            if kind == USER:
                return self._member(value, where)
            if kind == INTEGER:
                if isinstance(value, bool):
                    raise ValueError
                return int(value)
            if kind == NUMBER:
                return float(value)
            if kind == BOOLEAN:
                if isinstance(value, str):
                    return value.lower() in {"true", "yes", "1", "on"}
                return bool(value)
        except (TypeError, ValueError):
            raise BadRequest(f"option {key!r}: {value!r} is not the right kind of value") from None
        return value if isinstance(value, str) else str(value)

    def _option_spec(self, name: str, path: list[str]) -> dict[str, int]:
        command = next(c for c in self._commands() if c["name"] == name)
        options = command.get("options", [])
        for part in path:
            sub = next(
                (o for o in options if o["name"] == part and o["type"] in (SUBCOMMAND, GROUP)),
                None,
            )
            if sub is None:
                raise BadRequest(f"/{name} has no subcommand {part!r}", 404)
            options = sub.get("options", [])
        if any(o["type"] in (SUBCOMMAND, GROUP) for o in options):
            raise BadRequest(f"/{' '.join([name, *path])} needs a subcommand")
        return {o["name"]: int(o["type"]) for o in options}

    def _message(self, message: FakeMessage) -> dict[str, Any]:
        world = self._harness().world
        author = world.users.get(message.author_id)
        return {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": {
                "id": str(message.author_id),
                "name": author.name if author else "unknown",
                "bot": bool(author and author.bot),
            },
            "content": message.content,
            "embeds": message.embeds,
            "components": message.components,
            "ephemeral": message.ephemeral_to is not None,
            "loading": message.loading,
            "edited": message.edited_timestamp is not None,
            "timestamp": message.timestamp,
        }

    def _result(self, result: InteractionResult) -> dict[str, Any]:
        modal = None
        if result.modal is not None:
            key = str(result.id)
            self._modals[key] = result
            modal = {
                "id": key,
                "title": result.modal.get("title", ""),
                "components": result.modal.get("components", []),
            }
        final = result.final
        return {
            "ok": not result.problems,
            "problems": list(result.problems),
            "message": self._message(final) if final is not None else None,
            "modal": modal,
        }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _modal_value(value: Any) -> bool:
    """Text for a text input, a list of values for a select."""
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _worker(front: Storefront, name: str) -> Periodic:
    worker = next((w for w in front.workers if w.name == name), None)
    if worker is None:
        raise BadRequest(f"the {name} worker is not running", 503)
    return worker


def _skip(raw: Any) -> timedelta:
    """``{"days": n}`` and/or ``{"hours": n}``: whole, not negative, in all more than
    nothing and at most `MAX_SKIP`."""
    example = 'e.g. {"advance": {"days": 7}} or {"advance": {"hours": 12}}'
    if not isinstance(raw, dict) or not raw:
        raise BadRequest(f"'advance' must say how far to skip ahead, {example}")
    unknown = sorted(set(raw) - {"days", "hours"})
    if unknown:
        raise BadRequest(f"'advance' takes days and hours, not {', '.join(unknown)}")
    for unit, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f"'{unit}' must be a whole number of {unit}, not {value!r}")
    hours = raw.get("days", 0) * 24 + raw.get("hours", 0)
    if hours == 0:
        raise BadRequest("the sandbox clock only moves forward: skip at least an hour")
    if hours > MAX_SKIP.days * 24:
        raise BadRequest(f"skip at most {MAX_SKIP.days} days at a time")
    return timedelta(hours=hours)


def _int(raw: Any, what: str) -> int:
    if isinstance(raw, bool):
        raise BadRequest(f"'{what}' must be an id")
    try:
        return int(str(raw))
    except ValueError:
        raise BadRequest(f"'{what}' must be an id") from None
