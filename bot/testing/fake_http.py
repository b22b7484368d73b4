"""The fake Discord REST API: answers the bot's calls as Discord does and applies them to the world.

Two entry points mirror discord.py's two choke points: ``bot_request`` replaces
``HTTPClient.request`` on one client instance (bot-token REST), ``webhook_request`` stands in for
``AsyncWebhookAdapter.request`` (interaction callbacks, followups, ``@original``). Routes are
found with one dict lookup on ``(method, route.path)``: the template discord.py already has.
"""

from __future__ import annotations

import json as jsonlib
import time
import weakref
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

import discord
from discord.http import Route

from bot.testing import limits, payloads
from bot.testing.records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    Activity,
    InteractionResult,
    RestCall,
)
from bot.testing.spec import DiscordSpec, UnknownRoute
from bot.testing.state import (
    ADMINISTRATOR,
    CHANNEL_DM,
    MANAGE_ROLES,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    FakeDiscord,
    FakeGuild,
    FakeMessage,
)

#: Message flags a bot may set when creating: SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS,
#: IS_COMPONENTS_V2.
_CREATE_FLAGS = 4 | 64 | 4096 | (1 << 15)
#: An interaction token lives 15 minutes for followups and edits.
TOKEN_LIFETIME = 15 * 60.0


class FakeHTTPError(Exception):
    """Raised by a route handler: the status and JSON error body Discord would answer with."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        problems: Iterable[str] = (),
        *,
        located: bool = False,
    ) -> None:
        super().__init__(f"{status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems)
        #: The problems already name their route (schema problems name its template).
        self.located = located

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.problems:
            body["errors"] = {"_harness": {"_errors": [{"message": p} for p in self.problems]}}
        return body


class _FakeResponse:
    """Enough of aiohttp's response for discord.HTTPException to format itself."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
        }.get(status, "Error")
        self.headers: dict[str, str] = {}


def to_discord_exception(error: FakeHTTPError) -> discord.HTTPException:
    response: Any = _FakeResponse(error.status)
    if error.status == 403:
        return discord.Forbidden(response, error.body())
    if error.status == 404:
        return discord.NotFound(response, error.body())
    return discord.HTTPException(response, error.body())


def _payload_json(
    form: Iterable[dict[str, Any]] | None, uploads: dict[str, bytes]
) -> tuple[Any, list[str]]:
    """The JSON part of a multipart request and its files' names; each file's bytes
    go into ``uploads`` by name (read without moving the stream discord.py sends)."""
    body = None
    files = []
    for field in form or ():
        if field.get("name") == "payload_json":
            body = jsonlib.loads(field["value"])
        elif "filename" in field:
            files.append(field["filename"])
            stream = field["value"]
            where = stream.tell()
            uploads[field["filename"]] = stream.read()
            stream.seek(where)
    return body, files


Handler = Callable[[RestCall, "InteractionResult | None"], Any]


class FakeRest:
    """Discord's REST API over a FakeDiscord; keeps the flat log of every call.

    ``current`` names the Activity a call belongs to: the harness sets it while dispatching, and
    tasks created during dispatch inherit it, so calls are attributed even under concurrency. It
    holds a weak reference: a task that outlives its dispatch (discord.py keeps a view's timeout
    task for up to 15 minutes) must not keep the harness's record of the interaction alive.
    """

    def __init__(
        self,
        world: FakeDiscord,
        current: ContextVar[weakref.ref[Activity] | None],
        *,
        ack_deadline: float | None = 3.0,
        keep_log: bool = True,
        spec: DiscordSpec | None = None,
    ) -> None:
        self.world = world
        #: Discord's OpenAPI description: every request body is checked against its route's
        #: schema before the handler runs (None: only the harness's own limits).
        self.spec = spec
        self.current = current
        self.ack_deadline = ack_deadline
        self.keep_log = keep_log
        self.log: list[RestCall] = []
        #: Problems not yet raised in a test: (activity or None, text).
        self.unreported: list[tuple[Activity | None, str]] = []
        self.interactions: dict[str, InteractionResult] = {}
        #: Every file the bot uploaded (attachments), by file name: the latest of each.
        self.uploads: dict[str, bytes] = {}
        self._templates: dict[str, list[tuple[int, str]]] = {}
        self._base_len = len(Route.BASE)
        h = self
        self.bot_routes: dict[tuple[str, str], Handler] = {
            ("GET", "/users/@me"): h._get_me,
            ("GET", "/oauth2/applications/@me"): h._get_application,
            ("GET", "/users/{user_id}"): h._get_user,
            ("POST", "/users/@me/channels"): h._create_dm,
            ("GET", "/channels/{channel_id}"): h._get_channel,
            ("GET", "/channels/{channel_id}/messages"): h._list_messages,
            ("POST", "/channels/{channel_id}/typing"): h._typing,
            ("POST", "/channels/{channel_id}/messages"): h._create_message,
            ("GET", "/channels/{channel_id}/messages/{message_id}"): h._get_message,
            ("PATCH", "/channels/{channel_id}/messages/{message_id}"): h._edit_message,
            ("DELETE", "/channels/{channel_id}/messages/{message_id}"): h._delete_message,
            ("GET", "/guilds/{guild_id}"): h._get_guild,
            ("GET", "/guilds/{guild_id}/roles"): h._get_roles,
            ("GET", "/guilds/{guild_id}/members"): h._list_members,
            ("GET", "/guilds/{guild_id}/members/{member_id}"): h._get_member,
            ("PATCH", "/guilds/{guild_id}/members/{user_id}"): h._edit_member,
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"): h._add_role,
            ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"): h._remove_role,
            ("GET", "/applications/{application_id}/commands"): h._get_commands,
            ("PUT", "/applications/{application_id}/commands"): h._put_commands,
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands"): h._get_commands,
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"): h._put_commands,
        }
        original = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
        followup = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
        self.webhook_routes: dict[tuple[str, str], Handler] = {
            ("POST", "/interactions/{webhook_id}/{webhook_token}/callback"): h._callback,
            ("POST", "/webhooks/{webhook_id}/{webhook_token}"): h._followup,
            ("GET", original): h._get_original,
            ("PATCH", original): h._edit_original,
            ("DELETE", original): h._delete_original,
            ("GET", followup): h._get_followup,
            ("PATCH", followup): h._edit_followup,
            ("DELETE", followup): h._delete_followup,
        }

    # -- entry points -----------------------------------------------------------------------

    async def bot_request(
        self,
        route: Route,
        *,
        files: Any = None,
        form: Iterable[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Stands in for ``HTTPClient.request`` (same signature)."""
        body = kwargs.get("json")
        names: list[str] = []
        if body is None and form is not None:
            body, names = _payload_json(form, self.uploads)
        return self.handle("bot", self.bot_routes, route, body, kwargs.get("params"), names, None)

    async def webhook_request(
        self,
        route: Route,
        session: Any = None,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        proxy: Any = None,
        proxy_auth: Any = None,
        files: Any = None,
        reason: str | None = None,
        auth_token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Stands in for ``AsyncWebhookAdapter.request`` (same signature, minus ``self``)."""
        body: Any = payload
        names: list[str] = []
        if body is None and multipart is not None:
            body, names = _payload_json(multipart, self.uploads)
        interaction = self.interactions.get(route.webhook_token or "")
        return self.handle("webhook", self.webhook_routes, route, body, params, names, interaction)

    def handle(
        self,
        via: str,
        routes: dict[tuple[str, str], Handler],
        route: Route,
        body: Any,
        params: dict[str, Any] | None,
        files: list[str],
        interaction: InteractionResult | None,
    ) -> Any:
        call = RestCall(
            via=via,
            method=route.method,
            path=route.path,
            url=route.url[self._base_len :],
            json=body,
            params=params or {},
            at=time.perf_counter(),
            files=files,
        )
        call.args = self._args(route.path, call.url)
        activity = interaction if interaction is not None else self._current_activity()
        if self.keep_log:
            self.log.append(call)
        if activity is not None:
            activity.calls.append(call)
        handler = routes.get((route.method, route.path))
        try:
            if handler is None:
                raise FakeHTTPError(
                    404, 0, f"harness: {via} route {route.method} {route.path} is not implemented"
                )
            if self.spec is not None:
                self._check_schema(route.method, route.path, body)
            call.response = handler(call, interaction)
        except FakeHTTPError as error:
            call.status = error.status
            call.error_code = error.code
            call.response = error.body()
            if error.status == 400 or error.code == 0:
                for problem in error.problems or [error.message]:
                    text = problem if error.located else f"{call.method} {call.url}: {problem}"
                    if activity is not None:
                        activity.problems.append(text)
                    self.unreported.append((activity, text))
            raise to_discord_exception(error) from None
        if call.response is None:
            call.status = 204
        return call.response

    def _current_activity(self) -> Activity | None:
        ref = self.current.get()
        return None if ref is None else ref()

    def _args(self, template: str, url: str) -> dict[str, str]:
        """Path parameters by splitting on "/" (cached per template; no regex per call)."""
        slots = self._templates.get(template)
        if slots is None:
            slots = [
                (i, part[1:-1])
                for i, part in enumerate(template.split("/"))
                if part.startswith("{") and part.endswith("}")
            ]
            self._templates[template] = slots
        if not slots:
            return {}
        parts = url.split("/")
        return {name: parts[i] for i, name in slots}

    # -- helpers ----------------------------------------------------------------------------

    def _guild(self, call: RestCall) -> FakeGuild:
        guild = self.world.guilds.get(int(call.args["guild_id"]))
        if guild is None:
            raise FakeHTTPError(404, 10004, "Unknown Guild")
        return guild

    def _channel_message(self, call: RestCall) -> FakeMessage:
        message = self.world.messages.get(int(call.args["message_id"]))
        if message is None or message.deleted or message.channel_id != int(call.args["channel_id"]):
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return message

    def _check(self, problems: list[str]) -> None:
        if problems:
            raise FakeHTTPError(400, 50035, "Invalid Form Body", problems)

    def _check_schema(self, method: str, template: str, body: Any) -> None:
        """Discord's schema for the route; a route it does not describe fails loudly."""
        assert self.spec is not None
        try:
            problems = self.spec.check(method, template, body)
        except UnknownRoute as error:
            raise FakeHTTPError(404, 0, f"harness: {error}") from None
        if problems:
            located = [f"{method} {template}: {problem}" for problem in problems]
            raise FakeHTTPError(400, 50035, "Invalid Form Body", located, located=True)

    def _payload(self, message: FakeMessage) -> dict[str, Any]:
        return payloads.message_payload(self.world, message)

    def _new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        interaction: InteractionResult | None = None,
        flags: int | None = None,
    ) -> FakeMessage:
        channel = self.world.channels[channel_id]
        value = int(body.get("flags") or 0) & _CREATE_FLAGS if flags is None else flags
        message = FakeMessage(
            id=self.world.new_id(),
            channel_id=channel_id,
            author_id=self.world.bot_user.id,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            attachments=self._attachments(body),
            flags=value,
            guild_id=channel.guild_id,
        )
        if interaction is not None:
            message.type = 20 if interaction.type == APPLICATION_COMMAND else 0
            message.interaction_id = interaction.id
            message.interaction_type = interaction.type
            message.interaction_user_id = interaction.user_id
            message.webhook_id = self.world.application_id
            if value & MESSAGE_FLAG_EPHEMERAL:
                message.ephemeral_to = interaction.user_id
        else:
            message.flags &= ~MESSAGE_FLAG_EPHEMERAL
        return self.world.add_message(message)

    def _attachments(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for attachment in body.get("attachments") or []:
            name = attachment.get("filename", "file")
            attachment_id = str(self.world.new_id())
            url = f"https://cdn.invalid/attachments/{attachment_id}/{name}"
            found.append(
                {"id": attachment_id, "filename": name, "size": 0, "url": url, "proxy_url": url}
            )
        return found

    # -- bot-token routes -------------------------------------------------------------------

    def _get_me(self, call: RestCall, _: InteractionResult | None) -> Any:
        return payloads.user_payload(self.world.bot_user)

    def _get_application(self, call: RestCall, _: InteractionResult | None) -> Any:
        return payloads.application_payload(self.world)

    def _get_user(self, call: RestCall, _: InteractionResult | None) -> Any:
        user = self.world.users.get(int(call.args["user_id"]))
        if user is None:
            raise FakeHTTPError(404, 10013, "Unknown User")
        return payloads.user_payload(user)

    def _create_dm(self, call: RestCall, _: InteractionResult | None) -> Any:
        user_id = int(call.json["recipient_id"])
        if user_id not in self.world.users:
            raise FakeHTTPError(400, 50033, "Invalid Recipient(s)")
        return payloads.channel_payload(self.world.dm_channel(user_id), self.world)

    def _get_channel(self, call: RestCall, _: InteractionResult | None) -> Any:
        channel = self.world.channels.get(int(call.args["channel_id"]))
        if channel is None:
            raise FakeHTTPError(404, 10003, "Unknown Channel")
        return payloads.channel_payload(channel, self.world)

    def _list_messages(self, call: RestCall, _: InteractionResult | None) -> Any:
        channel_id = int(call.args["channel_id"])
        if channel_id not in self.world.channels:
            raise FakeHTTPError(404, 10003, "Unknown Channel")
        limit = int(call.params.get("limit", 50))
        found = self.world.channel_messages(channel_id, include_ephemeral=False)
        return [self._payload(m) for m in reversed(found[-limit:])]

    def _create_message(self, call: RestCall, _: InteractionResult | None) -> Any:
        channel = self.world.channels.get(int(call.args["channel_id"]))
        if channel is None:
            raise FakeHTTPError(404, 10003, "Unknown Channel")
        if channel.type == CHANNEL_DM and channel.recipient_id is not None:
            recipient = self.world.users[channel.recipient_id]
            if not recipient.dms_open or recipient.bot:
                raise FakeHTTPError(403, 50007, "Cannot send messages to this user")
        body = call.json or {}
        self._check(limits.check_message(body))
        return self._payload(self._new_message(channel.id, body))

    def _typing(self, call: RestCall, _: InteractionResult | None) -> Any:
        return None

    def _get_message(self, call: RestCall, _: InteractionResult | None) -> Any:
        return self._payload(self._channel_message(call))

    def _edit_message(self, call: RestCall, _: InteractionResult | None) -> Any:
        message = self._channel_message(call)
        if message.author_id != self.world.bot_user.id:
            raise FakeHTTPError(403, 50005, "Cannot edit a message authored by another user")
        body = call.json or {}
        self._check(limits.check_message(body, creating=False))
        return self._payload(self.world.edit_message(message, body))

    def _delete_message(self, call: RestCall, _: InteractionResult | None) -> Any:
        self.world.delete_message(self._channel_message(call))
        return None

    def _get_guild(self, call: RestCall, _: InteractionResult | None) -> Any:
        return payloads.guild_create_payload(self.world, self._guild(call))

    def _get_roles(self, call: RestCall, _: InteractionResult | None) -> Any:
        return [payloads.role_payload(r) for r in self._guild(call).roles.values()]

    def _list_members(self, call: RestCall, _: InteractionResult | None) -> Any:
        guild = self._guild(call)
        after = int(call.params.get("after", 0))
        limit = int(call.params.get("limit", 1))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return [payloads.member_payload(m) for m in members[:limit]]

    def _get_member(self, call: RestCall, _: InteractionResult | None) -> Any:
        return payloads.member_payload(self._member_in(self._guild(call), call))

    def _can_manage(self, guild: FakeGuild, role_id: int) -> None:
        """Discord's hierarchy rule: Manage Roles, and the role strictly below the bot's top."""
        role = guild.roles.get(role_id)
        if role is None:
            raise FakeHTTPError(404, 10011, "Unknown Role")
        bot_id = self.world.bot_user.id
        permissions = guild.permissions_of(bot_id)
        if not permissions & (MANAGE_ROLES | ADMINISTRATOR):
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        if bot_id != guild.owner_id and role.position >= guild.top_role_position(bot_id):
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        if role.bot_id is not None or role.id == guild.id:
            raise FakeHTTPError(403, 50013, "Missing Permissions")

    def _member_in(self, guild: FakeGuild, call: RestCall) -> Any:
        # discord.py names the same segment {user_id} in most routes, {member_id} in GET member.
        member_id = call.args.get("user_id") or call.args["member_id"]
        member = guild.members.get(int(member_id))
        if member is None:
            raise FakeHTTPError(404, 10007, "Unknown Member")
        return member

    def _add_role(self, call: RestCall, _: InteractionResult | None) -> Any:
        guild = self._guild(call)
        member = self._member_in(guild, call)
        role_id = int(call.args["role_id"])
        self._can_manage(guild, role_id)
        if role_id not in member.role_ids:
            member.role_ids.append(role_id)
        return None

    def _remove_role(self, call: RestCall, _: InteractionResult | None) -> Any:
        guild = self._guild(call)
        member = self._member_in(guild, call)
        role_id = int(call.args["role_id"])
        self._can_manage(guild, role_id)
        if role_id in member.role_ids:
            member.role_ids.remove(role_id)
        return None

    def _edit_member(self, call: RestCall, _: InteractionResult | None) -> Any:
        guild = self._guild(call)
        member = self._member_in(guild, call)
        body = call.json or {}
        if "roles" in body:
            wanted = [int(r) for r in body["roles"] or []]
            for role_id in set(wanted) ^ set(member.role_ids):
                self._can_manage(guild, role_id)
            member.role_ids = wanted
        if "nick" in body:
            member.nick = body["nick"]
        return payloads.member_payload(member)

    def _commands_key(self, call: RestCall) -> int | None:
        if int(call.args["application_id"]) != self.world.application_id:
            raise FakeHTTPError(403, 50001, "Missing Access")
        guild_id = call.args.get("guild_id")
        if guild_id is None:
            return None
        if int(guild_id) not in self.world.guilds:
            raise FakeHTTPError(403, 50001, "Missing Access")
        return int(guild_id)

    def _get_commands(self, call: RestCall, _: InteractionResult | None) -> Any:
        return self.world.commands.get(self._commands_key(call), [])

    def _put_commands(self, call: RestCall, _: InteractionResult | None) -> Any:
        key = self._commands_key(call)
        body = list(call.json or [])
        self._check(limits.check_commands(body))
        previous = {
            (c.get("type", 1), c["name"]): c["id"] for c in self.world.commands.get(key, [])
        }
        stored = []
        for command in body:
            kind = command.get("type", 1)
            command_id = previous.get((kind, command["name"])) or str(self.world.new_id())
            entry = {
                "id": command_id,
                "application_id": str(self.world.application_id),
                "version": str(self.world.new_id()),
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                "description": "",
                "options": [],
                **command,
                "type": kind,
            }
            if key is not None:
                entry["guild_id"] = str(key)
            stored.append(entry)
        self.world.commands[key] = stored
        return stored

    # -- interaction routes -----------------------------------------------------------------

    def _interaction(
        self, interaction: InteractionResult | None, callback: bool
    ) -> InteractionResult:
        if interaction is None:
            if callback:
                raise FakeHTTPError(404, 10062, "Unknown interaction")
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        if not callback and time.perf_counter() - interaction.started_at > TOKEN_LIFETIME:
            raise FakeHTTPError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _callback(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._interaction(found, callback=True)
        if interaction.callback_type is not None:
            raise FakeHTTPError(400, 40060, "Interaction has already been acknowledged.")
        now = call.at
        if self.ack_deadline is not None and now - interaction.started_at > self.ack_deadline:
            interaction.expired = True
            raise FakeHTTPError(404, 10062, "Unknown interaction")
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
                MODAL,
            },
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE}
            | (
                {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
                if interaction.source_message_id
                else set()
            ),
        }[interaction.type]
        if kind not in allowed:
            raise FakeHTTPError(
                400,
                50035,
                "Invalid Form Body",
                [f"callback type {kind} is not valid for interaction type {interaction.type}"],
            )
        info: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(
                int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            ),
        }
        resource: dict[str, Any] = {"type": kind}
        if kind == CHANNEL_MESSAGE:
            self._check(limits.check_message(data))
            message = self._new_message(interaction.channel_id, data, interaction=interaction)
            interaction.original_message_id = interaction.last_message_id = message.id
            interaction.final_at = now
            resource["message"] = self._payload(message)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            message = self._new_message(
                interaction.channel_id, {}, interaction=interaction, flags=flags
            )
            interaction.original_message_id = message.id
            resource["message"] = self._payload(message)
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            source = self.world.messages.get(interaction.source_message_id or 0)
            if source is None or source.deleted:
                raise FakeHTTPError(404, 10008, "Unknown Message")
            interaction.original_message_id = source.id
            info["response_message_ephemeral"] = source.ephemeral
            if kind == UPDATE_MESSAGE:
                self._check(limits.check_message(data, creating=False))
                self.world.edit_message(source, data)
                interaction.last_message_id = source.id
                interaction.final_at = now
                resource["message"] = self._payload(source)
        elif kind == AUTOCOMPLETE_RESULT:
            choices = list(data.get("choices") or [])
            self._check(limits.check_autocomplete(choices))
            interaction.choices = choices
            interaction.final_at = now
        elif kind == MODAL:
            self._check(limits.check_modal(data))
            interaction.modal = data
            interaction.final_at = now
        if interaction.original_message_id is not None:
            info["response_message_id"] = str(interaction.original_message_id)
        interaction.callback = body
        interaction.callback_type = kind
        interaction.acked_at = now
        answer: dict[str, Any] = {"interaction": info}
        if kind not in (AUTOCOMPLETE_RESULT, MODAL):
            answer["resource"] = resource
        return answer

    def _acknowledged(self, found: InteractionResult | None) -> InteractionResult:
        interaction = self._interaction(found, callback=False)
        if interaction.callback_type is None:
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        return interaction

    def _original(self, interaction: InteractionResult) -> FakeMessage:
        message = self.world.messages.get(interaction.original_message_id or 0)
        if message is None or message.deleted:
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return message

    def _followup(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._acknowledged(found)
        body = call.json or {}
        self._check(limits.check_message(body))
        original = self.world.messages.get(interaction.original_message_id or 0)
        if original is not None and original.loading and not original.deleted:
            # The first followup after a "thinking" defer replaces the loading message.
            message = self.world.edit_message(original, body)
        else:
            message = self._new_message(interaction.channel_id, body, interaction=interaction)
            interaction.followup_ids.append(message.id)
        interaction.last_message_id = message.id
        interaction.final_at = call.at
        return self._payload(message)

    def _get_original(self, call: RestCall, found: InteractionResult | None) -> Any:
        return self._payload(self._original(self._acknowledged(found)))

    def _edit_original(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._acknowledged(found)
        message = self._original(interaction)
        body = call.json or {}
        self._check(limits.check_message(body, creating=False))
        self.world.edit_message(message, body)
        interaction.last_message_id = message.id
        interaction.final_at = call.at
        return self._payload(message)

    def _delete_original(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._acknowledged(found)
        self.world.delete_message(self._original(interaction))
        interaction.final_at = call.at
        return None

    def _own_message(self, interaction: InteractionResult, call: RestCall) -> FakeMessage:
        message_id = int(call.args["message_id"])
        owned = (
            message_id == interaction.original_message_id or message_id in interaction.followup_ids
        )
        message = self.world.messages.get(message_id)
        if not owned or message is None or message.deleted:
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return message

    def _get_followup(self, call: RestCall, found: InteractionResult | None) -> Any:
        return self._payload(self._own_message(self._acknowledged(found), call))

    def _edit_followup(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._acknowledged(found)
        message = self._own_message(interaction, call)
        body = call.json or {}
        self._check(limits.check_message(body, creating=False))
        self.world.edit_message(message, body)
        interaction.last_message_id = message.id
        interaction.final_at = call.at
        return self._payload(message)

    def _delete_followup(self, call: RestCall, found: InteractionResult | None) -> Any:
        interaction = self._acknowledged(found)
        self.world.delete_message(self._own_message(interaction, call))
        return None
