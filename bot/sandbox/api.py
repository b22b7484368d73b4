"""The sandbox's JSON API and page, served by the storefront's own web app.

The page uses exactly this API, so anything a person does in the browser can be
scripted: run a slash command as a member, press a component, submit a modal,
read a channel or a member's DMs. Bad input is a 4xx with a message and changes
nothing; what the bot answers is what the harness captured from discord.py. The API
acts as whichever member a request names, so other sites' pages may not call it
(403), and it takes only JSON bodies (415).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.world import SandboxLayout
from bot.testing import DiscordHarness, FakeMember, FakeMessage, InteractionResult, RefusedByClient
from bot.web import FLOW_KEY
from payments.web_guard import same_site

STATIC = Path(__file__).with_name("static")
USER, INTEGER, BOOLEAN, NUMBER = 6, 4, 5, 10
SUBCOMMAND, GROUP = 1, 2


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SandboxApi:
    """Translates HTTP to harness calls; the harness is attached once the bot runs."""

    def __init__(self, layout: SandboxLayout) -> None:
        self.layout = layout
        self.harness: DiscordHarness | None = None
        self._public_url = ""
        self._modals: dict[str, InteractionResult] = {}

    def attach(self, harness: DiscordHarness) -> None:
        self.harness = harness

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
        harness = self._harness()
        guild = self.layout.guild
        moderators = {m for m in guild.members.values() if self.layout.moderator_role.id in m.roles}
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
            if member.id in self.layout.members.values()
        ]
        channels = [
            {
                "id": str(self.layout.general.id),
                "name": self.layout.general.name,
                "moderators_only": False,
            },
            {
                "id": str(self.layout.audit.id),
                "name": self.layout.audit.name,
                "moderators_only": True,
            },
        ]
        bot_user = harness.world.bot_user
        return {
            "guild": {"id": str(guild.id), "name": guild.name},
            "members": members,
            "channels": channels,
            "commands": self._commands(),
            "bot": {"id": str(bot_user.id), "name": bot_user.name},
        }

    async def channel(self, request: web.Request) -> dict[str, Any]:
        member = self._member(request.query.get("member"))
        channel_id = _int(request.match_info["channel_id"], "channel")
        if channel_id not in (self.layout.general.id, self.layout.audit.id):
            raise BadRequest("no such channel", 404)
        if channel_id == self.layout.audit.id and self.layout.moderator_role.id not in member.roles:
            raise BadRequest("only moderators can read the audit channel", 403)
        messages = self._harness().world.channel_messages(channel_id, visible_to=member.id)
        return {"messages": [self._message(m) for m in messages]}

    async def dms(self, request: web.Request) -> dict[str, Any]:
        member = self._member(request.match_info["member_id"])
        return {"messages": [self._message(m) for m in self._harness().world.dms(member.id)]}

    async def command(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        member = self._member(body.get("member"))
        name, path = self._command_path(body)
        options = self._options(name, path, body.get("options") or {})
        result = await self._harness().slash(
            member, name, *path, channel=self._channel_for(body), options=options, strict=False
        )
        return {"result": self._result(result)}

    async def autocomplete(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        member = self._member(body.get("member"))
        name, path = self._command_path(body)
        focused = body.get("focused")
        if not isinstance(focused, str) or not focused:
            raise BadRequest("'focused' must name the option being typed")
        options = self._options(name, path, body.get("options") or {}, partial=True)
        options.setdefault(focused, "")
        result = await self._harness().autocomplete(
            member,
            name,
            *path,
            focused=focused,
            channel=self._channel_for(body),
            options=options,
            strict=False,
        )
        return {"choices": result.choices or []}

    async def component(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        member = self._member(body.get("member"))
        harness = self._harness()
        message_id = _int(body.get("message_id"), "message_id")
        message = harness.world.messages.get(message_id)
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
                values = [self._member(v) for v in values]
            result = await harness.select(member, message, custom_id, values, strict=False)
        return {"result": self._result(result)}

    async def modal(self, request: web.Request) -> dict[str, Any]:
        body = await _body(request)
        member = self._member(body.get("member"))
        source = self._modals.get(str(body.get("modal_id")))
        if source is None:
            raise BadRequest("no such modal (it may have been submitted already)", 404)
        if source.user_id != member.id:
            raise BadRequest("that modal was shown to another member", 403)
        values = body.get("values") or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise BadRequest("'values' must map input ids to text")
        result = await self._harness().submit_modal(member, source, values, strict=False)
        self._modals.pop(str(body.get("modal_id")), None)
        return {"result": self._result(result)}

    # ---- helpers --------------------------------------------------------------

    def _harness(self) -> DiscordHarness:
        if self.harness is None:
            raise BadRequest("the sandbox is still starting", 503)
        return self.harness

    def _member(self, raw: Any) -> FakeMember:
        member_id = _int(raw, "member")
        member = self.layout.guild.members.get(member_id)
        if member is None or member_id not in self.layout.members.values():
            raise BadRequest(f"no sandbox member with id {raw}", 404)
        return member

    def _channel_for(self, body: dict[str, Any]) -> int:
        raw = body.get("channel")
        if raw is None:
            return self.layout.general.id
        channel_id = _int(raw, "channel")
        if channel_id not in (self.layout.general.id, self.layout.audit.id):
            raise BadRequest("no such channel", 404)
        return channel_id

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
        self, name: str, path: list[str], raw: Any, *, partial: bool = False
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
            result[key] = self._convert(kind, key, value)
        return result

    def _convert(self, kind: int, key: str, value: Any) -> Any:
        try:
            if kind == USER:
                return self._member(value)
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


def _int(raw: Any, what: str) -> int:
    if isinstance(raw, bool):
        raise BadRequest(f"'{what}' must be an id")
    try:
        return int(str(raw))
    except ValueError:
        raise BadRequest(f"'{what}' must be an id") from None
