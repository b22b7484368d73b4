"""Runs a real ``discord.Client``/``commands.Bot`` against the fake Discord, with no socket.

Payloads enter through discord.py's own gateway parsers; REST leaves through the fake; dispatch
is awaited by recording the tasks discord.py names for it (never by scanning all tasks, which
grows with every view timer). Everything patched is restored by ``close()``.

For a bot that takes interactions over HTTP, the harness plays Discord's side of that too:
each interaction is signed with a key the test made and posted to the bot's endpoint, and
the HTTP response is taken as the interaction's callback. A middleware on the bot's web
application (``http_middleware``) lets the harness follow the dispatch the request starts.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import aiohttp
import discord
from aiohttp import web
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter
from nacl.signing import SigningKey

from bot.testing import payloads, spec
from bot.testing.commands import CommandCatalog, RefusedByClient
from bot.testing.fake_http import FakeRest
from bot.testing.limits import DiscordLimitError
from bot.testing.records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    Activity,
    InteractionResult,
    RestCall,
)
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

#: Names discord.py gives the tasks that run handlers (CommandTree, DynamicItems, views, modals,
#: event listeners). Awaiting exactly these is what "dispatch has settled" means.
DISPATCH_TASK_PREFIXES = (
    "CommandTree-invoker",
    "discord-ui-dynamic-item-",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord.py: ",
)
_ROUTER_ATTRIBUTE = "_offline_harness_router"
#: Names the interaction an HTTP delivery carries, for the harness's own middleware.
HARNESS_HEADER = "X-Offline-Harness-Interaction"
CALLBACK_ROUTE = "/interactions/{webhook_id}/{webhook_token}/callback"

Actor = FakeMember | FakeUser | int
MessageRef = FakeMessage | InteractionResult | int


class InteractionFailed(AssertionError):
    """Never acknowledged: the member would see "This interaction failed"."""


class NotOnThisShard(RefusedByClient):
    """Discord sends a guild's events only to the shard that holds it (DMs: shard 0)."""


class _WebhookRouter:
    """Installed once on AsyncWebhookAdapter (class level) for all harnesses in the process.

    Each harness registers its client's aiohttp session; a request is answered by the fake whose
    session it came through, so several bots (tests, sandbox) can run side by side.
    """

    def __init__(self, original: Callable[..., Awaitable[Any]]) -> None:
        self.original = original
        self.fakes: dict[int, FakeRest] = {}

    def install(self) -> None:
        router = self

        async def request(
            adapter: AsyncWebhookAdapter, route: Any, session: Any, **kwargs: Any
        ) -> Any:
            fake = router.fakes.get(id(session))
            if fake is None:
                token = route.webhook_token
                fake = next((f for f in router.fakes.values() if token in f.interactions), None)
            if fake is None:
                return await router.original(adapter, route, session, **kwargs)
            return await fake.webhook_request(route, session, **kwargs)

        setattr(request, _ROUTER_ATTRIBUTE, self)
        AsyncWebhookAdapter.request = request  # type: ignore[method-assign,assignment]

    @classmethod
    def current(cls) -> _WebhookRouter:
        router = getattr(AsyncWebhookAdapter.request, _ROUTER_ATTRIBUTE, None)
        if router is None:
            router = cls(AsyncWebhookAdapter.request)
            router.install()
        assert isinstance(router, _WebhookRouter)
        return router

    def remove(self, session_id: int) -> None:
        self.fakes.pop(session_id, None)
        if not self.fakes:
            AsyncWebhookAdapter.request = self.original  # type: ignore[method-assign,assignment]


class DiscordHarness:
    """The offline Discord for one client: start it, send interactions, read what came back.

    Use as ``async with DiscordHarness(bot, world) as harness:``. ``strict`` makes every limit
    violation, unimplemented route and unacknowledged interaction raise in the test. ``schema``
    checks every request body against Discord's OpenAPI description (``spec.py``): None checks
    when jsonschema is installed (the dev extras; the sandbox may run without), True insists.
    """

    def __init__(
        self,
        client: discord.Client,
        world: FakeDiscord | None = None,
        *,
        strict: bool = True,
        ack_deadline: float | None = 3.0,
        settle_timeout: float = 30.0,
        keep_log: bool = True,
        token: str = "offline-token",
        schema: bool | None = None,
        connect: bool = True,
        interactions_url: str | None = None,
        signing_key: SigningKey | None = None,
    ) -> None:
        if (interactions_url is None) != (signing_key is None):
            raise ValueError("interactions over HTTP need both interactions_url and signing_key")
        self.client = client
        #: Whether the client opens a gateway session (READY, GUILD_CREATE); a process that
        #: takes interactions over HTTP alone only logs in over REST.
        self.connect = connect
        self.interactions_url = interactions_url
        self.signing_key = signing_key
        self._http: aiohttp.ClientSession | None = None
        self.world = world if world is not None else FakeDiscord()
        if not self.world.guilds:
            self.world.add_guild()
        self.strict = strict
        self.settle_timeout = settle_timeout
        self.token = token
        #: Seconds between Discord creating an interaction and the bot receiving it (a
        #: backed-up gateway); the 3 s acknowledgement deadline counts from creation.
        self.arrival_delay = 0.0
        #: The activity being dispatched, weakly: tasks copy it with their context, and some live
        #: far longer than the dispatch (a view's timeout task, 15 minutes for ephemerals).
        self._current: ContextVar[weakref.ref[Activity] | None] = ContextVar(
            "harness_activity", default=None
        )
        described = spec.load() if schema is not False else None
        if schema and described is None:
            raise RuntimeError("schema=True needs jsonschema and referencing (the dev extras)")
        self.rest = FakeRest(
            self.world, self._current, ack_deadline=ack_deadline, keep_log=keep_log, spec=described
        )
        self.startup = Activity()
        self._catalog: CommandCatalog | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_factory: Any = None
        self._previous_ready_timeout: float | None = None
        self._session_id: int | None = None
        self._router: _WebhookRouter | None = None
        self._parsers: dict[str, Callable[[Any], Any]] = {}
        self._started = False
        #: For an AutoShardedClient: the total shard count and the shards this client runs.
        self.shard_count: int | None = None
        self.shard_ids: list[int] = []
        if isinstance(client, discord.AutoShardedClient):
            self.shard_count = client.shard_count or 1
            self.shard_ids = list(client.shard_ids or range(self.shard_count))

    # -- start and stop ---------------------------------------------------------------------

    async def __aenter__(self) -> DiscordHarness:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close(check=exc is None)

    async def start(self) -> None:
        """Log in offline (runs setup_hook), feed READY and GUILD_CREATE, wait until ready."""
        client = self.client
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._previous_factory = loop.get_task_factory()
        loop.set_task_factory(self._task_factory)  # type: ignore[arg-type]
        client.http.request = self.rest.bot_request  # type: ignore[method-assign]
        state = client._connection
        self._previous_ready_timeout = state.guild_ready_timeout
        state.guild_ready_timeout = 0.01
        self._parsers = state.parsers
        self._started = True
        token = self._current.set(weakref.ref(self.startup))
        try:
            await client.login(self.token)
            self._session_id = id(client.http._HTTPClient__session)  # type: ignore[attr-defined]
            self._router = _WebhookRouter.current()
            self._router.fakes[self._session_id] = self.rest
            if self.connect:  # else logged in over REST only, as an HTTP-interactions process
                if self.shard_count is None:
                    self._connect(None, self.world.guilds.values())
                else:
                    self._connect_shards(self.shard_count)
        finally:
            self._current.reset(token)
        if self.connect:
            await asyncio.wait_for(client.wait_until_ready(), timeout=self.settle_timeout)
        await self.settle(self.startup)
        self._raise_problems(self.startup)

    def _connect(self, shard: tuple[int, int] | None, guilds: Iterable[FakeGuild]) -> None:
        """One gateway session: READY, then a GUILD_CREATE for each of its guilds."""
        self._parsers["READY"](payloads.ready_payload(self.world, shard))
        for guild in guilds:
            self._parsers["GUILD_CREATE"](payloads.guild_create_payload(self.world, guild))

    def _connect_shards(self, count: int) -> None:
        """Each shard's session, as AutoShardedClient.launch_shards would open them."""
        assert isinstance(self.client, discord.AutoShardedClient)
        self.client.shard_count = count
        state = self.client._connection
        state.shard_count = count
        state.shard_ids = self.shard_ids
        for shard_id in self.shard_ids:
            self._connect((shard_id, count), self.world.guilds_on_shard(shard_id, count))

    def runs(self, guild_id: int | None) -> bool:
        """Whether Discord sends this guild's events (None: direct messages) to this client."""
        if self.shard_count is None:
            return True
        shard = 0 if guild_id is None else shard_of(guild_id, self.shard_count)
        return shard in self.shard_ids

    def _check_shard(self, guild_id: int | None, what: str) -> None:
        if self.runs(guild_id):
            return
        assert self.shard_count is not None
        where = "direct messages" if guild_id is None else f"guild {guild_id}"
        shard = 0 if guild_id is None else shard_of(guild_id, self.shard_count)
        raise NotOnThisShard(
            f"{what}: Discord sends {where} to shard {shard} of {self.shard_count}; "
            f"this client runs shards {self.shard_ids}"
        )

    async def close(self, *, check: bool = True) -> None:
        """Close the client and undo every patch; then fail on problems nobody raised yet."""
        if not self._started:
            return
        self._started = False
        try:
            await self.client.close()
            if self._http is not None:
                await self._http.close()
        finally:
            if self._router is not None and self._session_id is not None:
                self._router.remove(self._session_id)
            self.client.http.__dict__.pop("request", None)
            if self._previous_ready_timeout is not None:
                self.client._connection.guild_ready_timeout = self._previous_ready_timeout
            if self._loop is not None:
                self._loop.set_task_factory(self._previous_factory)
        if check and self.strict and self.rest.unreported:
            problems = [text for _, text in self.rest.unreported]
            self.rest.unreported.clear()
            raise DiscordLimitError("Discord would have refused:\n" + "\n".join(problems))

    # -- settling ---------------------------------------------------------------------------

    def _task_factory(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        if self._previous_factory is not None:
            task: asyncio.Task[Any] = self._previous_factory(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        ref = self._current.get()
        owner = None if ref is None else ref()
        if owner is not None:
            owner.tasks.append(task)
        return task

    async def settle(self, activity: Activity) -> None:
        """Wait until no dispatch task started by this activity (or by its tasks) is running."""
        deadline = time.perf_counter() + self.settle_timeout
        while True:
            pending = [
                t
                for t in activity.tasks
                if not t.done() and t.get_name().startswith(DISPATCH_TASK_PREFIXES)
            ]
            activity.tasks = pending
            if not pending:
                return
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                names = sorted(t.get_name() for t in pending)
                raise TimeoutError(
                    f"dispatch did not settle within {self.settle_timeout}s: {names}"
                )
            await asyncio.wait(pending, timeout=remaining)

    def _raise_problems(self, activity: Activity, strict: bool | None = None) -> None:
        if not (self.strict if strict is None else strict) or not activity.problems:
            return
        self.rest.unreported = [(a, t) for a, t in self.rest.unreported if a is not activity]
        raise DiscordLimitError("Discord would have refused:\n" + "\n".join(activity.problems))

    # -- raw input --------------------------------------------------------------------------

    async def dispatch(self, event: str, payload: dict[str, Any]) -> Activity:
        """Feed any gateway DISPATCH event (e.g. GUILD_MEMBER_ADD) and wait for its handlers."""
        activity = Activity()
        token = self._current.set(weakref.ref(activity))
        try:
            self._parsers[event](payload)
        finally:
            self._current.reset(token)
        await self.settle(activity)
        self._raise_problems(activity)
        return activity

    async def member_join(self, member: FakeMember) -> Activity:
        """Tell the bot a member joined (the member must already be in the world's guild)."""
        self._check_shard(member.guild_id, "member join")
        data = payloads.member_payload(member)
        data["guild_id"] = str(member.guild_id)
        return await self.dispatch("GUILD_MEMBER_ADD", data)

    async def member_leave(self, member: FakeMember) -> Activity:
        """Remove a member from the world and tell the bot."""
        self._check_shard(member.guild_id, "member leave")
        self.world.guilds[member.guild_id].remove_member(member.id)
        data = {"guild_id": str(member.guild_id), "user": payloads.user_payload(member.user)}
        return await self.dispatch("GUILD_MEMBER_REMOVE", data)

    # -- interactions -----------------------------------------------------------------------

    @property
    def commands(self) -> CommandCatalog:
        if self._catalog is None:
            tree = getattr(self.client, "tree", None)
            if tree is None:
                raise RefusedByClient("this client has no command tree")
            self._catalog = CommandCatalog(tree, self.world)
        return self._catalog

    def _actor(
        self, actor: Actor, channel: FakeChannel | str | int | None
    ) -> tuple[FakeUser, FakeChannel]:
        guild_id: int | None = None
        if isinstance(actor, FakeMember):
            user, guild_id = actor.user, actor.guild_id
        elif isinstance(actor, FakeUser):
            user = actor
        else:
            user = self.world.users[actor]
        if isinstance(channel, FakeChannel):
            resolved = channel
        elif isinstance(channel, int):
            resolved = self.world.channels[channel]
        elif isinstance(channel, str):
            guild = self.world.guilds[guild_id] if guild_id is not None else self.world.guild
            resolved = guild.channel(channel)
        elif guild_id is not None:
            resolved = next(iter(self.world.guilds[guild_id].channels.values()))
        else:
            resolved = self.world.dm_channel(user.id)
        if (
            resolved.guild_id is not None
            and user.id not in self.world.guilds[resolved.guild_id].members
        ):
            raise RefusedByClient(f"{user.name} is not a member of the channel's guild")
        return user, resolved

    async def _run(
        self,
        kind: int,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any],
        *,
        name: str,
        message: FakeMessage | None = None,
        strict: bool | None = None,
        locale: str = "en-US",
    ) -> InteractionResult:
        interaction_id = self.world.new_id(age=self.arrival_delay)
        token = f"itoken-{interaction_id}"
        result = InteractionResult(
            id=interaction_id,
            token=token,
            type=kind,
            user_id=user.id,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            name=name,
            world=self.world,
            source_message_id=message.id if message is not None else None,
        )
        result.payload = payloads.interaction_payload(
            self.world,
            interaction_id=interaction_id,
            token=token,
            type=kind,
            user=user,
            channel=channel,
            data=data,
            message=message,
            locale=locale,
        )
        return await self.send(result, strict=strict)

    async def send(
        self, result: InteractionResult, *, strict: bool | None = None
    ) -> InteractionResult:
        """Dispatch a prepared interaction (its ``payload``) and wait until it has settled."""
        if self.shard_count is not None:
            self._check_shard(result.guild_id, f"interaction {result.name!r}")
        self.rest.interactions[result.token] = result
        token = self._current.set(weakref.ref(result))
        result.started_at = time.perf_counter() - self.arrival_delay
        try:
            if self.interactions_url is None:
                self._parsers["INTERACTION_CREATE"](result.payload)
            else:
                await self._post(result)
        finally:
            self._current.reset(token)
        await self.settle(result)
        self._raise_problems(result, strict)
        if (self.strict if strict is None else strict) and not result.acknowledged:
            reason = "expired: answered after the deadline" if result.expired else "never answered"
            raise InteractionFailed(f"interaction {result.name!r} {reason}")
        return result

    # -- interactions over HTTP ----------------------------------------------------------

    async def _post(self, result: InteractionResult) -> None:
        """Deliver as Discord does to an Interactions Endpoint URL: signed, over HTTP."""
        assert self.interactions_url is not None and self.signing_key is not None
        if self._http is None:
            self._http = aiohttp.ClientSession()
        body = json.dumps(result.payload).encode()
        timestamp = str(int(time.time()))
        signature = self.signing_key.sign(timestamp.encode() + body).signature.hex()
        headers = {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp,
            HARNESS_HEADER: result.token,
        }
        async with self._http.post(self.interactions_url, data=body, headers=headers) as reply:
            result.http_status = reply.status
            await reply.read()

    def http_middleware(self) -> Any:
        """For the bot's web application: follow the dispatch an HTTP delivery starts, and
        take its response as the interaction's callback, the moment it is written."""

        @web.middleware
        async def follow(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            result = self.rest.interactions.get(request.headers.get(HARNESS_HEADER, ""))
            if result is None:
                return await handler(request)
            token = self._current.set(weakref.ref(result))
            try:
                response = await handler(request)
            finally:
                self._current.reset(token)
            self._take_callback(result, response)
            return response

        return follow

    def _take_callback(self, result: InteractionResult, response: web.StreamResponse) -> None:
        """Discord reads the response as the callback, before anything sent after it."""
        body = response.body if isinstance(response, web.Response) else None
        if response.status != 200 or not isinstance(body, bytes):
            return  # Discord shows "This interaction failed"; `send` reports it
        route = Route("POST", CALLBACK_ROUTE, webhook_id=result.id, webhook_token=result.token)
        try:
            answer = json.loads(body)
            self.rest.handle("http", self.rest.webhook_routes, route, answer, {}, [], result)
        except discord.HTTPException:
            return  # recorded as the interaction's problem by the fake

    async def slash(
        self,
        member: Actor,
        command: str,
        /,
        *path: str,
        channel: FakeChannel | str | int | None = None,
        options: Mapping[str, Any] | None = None,
        strict: bool | None = None,
        locale: str = "en-US",
        **values: Any,
    ) -> InteractionResult:
        """Run ``/command [group] [sub] option=value...`` as ``member`` and wait for the answer.

        Options named like this method's keywords (channel, options, strict, locale) go in
        ``options={...}``.
        """
        user, where = self._actor(member, channel)
        merged = {**(options or {}), **values}
        data = self.commands.build(command, path, merged, guild_id=where.guild_id, user_id=user.id)
        full = " ".join((command, *path))
        return await self._run(
            APPLICATION_COMMAND, user, where, data, name=full, strict=strict, locale=locale
        )

    async def autocomplete(
        self,
        member: Actor,
        command: str,
        /,
        *path: str,
        focused: str,
        channel: FakeChannel | str | int | None = None,
        options: Mapping[str, Any] | None = None,
        strict: bool | None = None,
        **values: Any,
    ) -> InteractionResult:
        """Type into option ``focused`` (its value: the partial text); answer in ``.choices``."""
        user, where = self._actor(member, channel)
        merged = {**(options or {}), **values}
        data = self.commands.build(
            command, path, merged, guild_id=where.guild_id, user_id=user.id, focused=focused
        )
        full = " ".join((command, *path))
        return await self._run(AUTOCOMPLETE, user, where, data, name=full, strict=strict)

    def _message_with(self, ref: MessageRef, custom_id: str) -> FakeMessage:
        if isinstance(ref, FakeMessage):
            return ref
        if isinstance(ref, InteractionResult):
            for message in reversed(ref.messages):
                if not message.deleted and message.find_component(custom_id) is not None:
                    return message
            final = ref.final or ref.message
            if final is None:
                raise RefusedByClient(f"interaction {ref.name!r} produced no message")
            return final
        return self.world.messages[ref]

    def _component(
        self, user: FakeUser, message: FakeMessage, custom_id: str, types: Iterable[int]
    ) -> dict[str, Any]:
        if not message.visible_to(user.id):
            raise RefusedByClient(f"{user.name} cannot see message {message.id}")
        component = message.find_component(custom_id)
        if component is None:
            raise RefusedByClient(
                f"no component {custom_id!r} on message {message.id}; it has {message.custom_ids()}"
            )
        if component.get("type") not in set(types):
            raise RefusedByClient(f"component {custom_id!r} is of type {component.get('type')}")
        if component.get("disabled"):
            raise RefusedByClient(f"component {custom_id!r} is disabled")
        return component

    async def press(
        self,
        member: Actor,
        message: MessageRef,
        custom_id: str,
        *,
        strict: bool | None = None,
    ) -> InteractionResult:
        """Click the button ``custom_id`` on a stored message (or a result's message)."""
        target = self._message_with(message, custom_id)
        user, channel = self._actor(member, target.channel_id)
        component = self._component(user, target, custom_id, (2,))
        if component.get("style") in (5, 6):
            raise RefusedByClient(f"button {custom_id!r} is a link or premium button")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if "id" in component:
            data["id"] = component["id"]
        return await self._run(
            MESSAGE_COMPONENT, user, channel, data, name=custom_id, message=target, strict=strict
        )

    async def select(
        self,
        member: Actor,
        message: MessageRef,
        custom_id: str,
        values: Sequence[Any],
        *,
        strict: bool | None = None,
    ) -> InteractionResult:
        """Pick ``values``: strings in a string select, else members, roles or channels."""
        from bot.testing.commands import Resolver

        target = self._message_with(message, custom_id)
        user, channel = self._actor(member, target.channel_id)
        component = self._component(user, target, custom_id, (3, 5, 6, 7, 8))
        kind = component["type"]
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise RefusedByClient(
                f"select {custom_id!r} takes {low}-{high} values, got {len(values)}"
            )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
        if "id" in component:
            data["id"] = component["id"]
        if kind == 3:
            allowed = [o["value"] for o in component.get("options", [])]
            for value in values:
                if value not in allowed:
                    raise RefusedByClient(f"select {custom_id!r}: {value!r} not among {allowed}")
            data["values"] = list(values)
        else:
            resolver = Resolver(self.world, channel.guild_id, user.id)
            where = f"select {custom_id!r}"
            picked = []
            for value in values:
                if kind == 6 or (kind == 7 and isinstance(value, FakeRole)):
                    picked.append(resolver.role(value, where))
                elif kind == 8:
                    picked.append(resolver.channel(value, where, component.get("channel_types")))
                else:
                    picked.append(resolver.user(value, where))
            data["values"] = picked
            data["resolved"] = resolver.data
        return await self._run(
            MESSAGE_COMPONENT, user, channel, data, name=custom_id, message=target, strict=strict
        )

    async def submit_modal(
        self,
        member: Actor,
        source: InteractionResult,
        values: Mapping[str, str | Sequence[str]],
        *,
        strict: bool | None = None,
    ) -> InteractionResult:
        """Fill and submit the modal ``source`` answered with; values by the inputs' custom_id."""
        modal = source.modal
        if modal is None:
            raise RefusedByClient(f"interaction {source.name!r} did not open a modal")
        user, channel = self._actor(member, source.channel_id)
        if user.id != source.user_id:
            raise RefusedByClient("only the member the modal was shown to can submit it")
        known: set[str] = set()
        rows: list[dict[str, Any]] = []
        for top in modal.get("components", []):
            if top.get("type") == 1:
                rows.append(
                    {
                        "type": 1,
                        "components": [
                            self._modal_value(c, values, known) for c in top["components"]
                        ],
                    }
                )
            elif top.get("type") == 18:
                entry = {
                    "type": 18,
                    "component": self._modal_value(top["component"], values, known),
                }
                if "id" in top:
                    entry["id"] = top["id"]
                rows.append(entry)
            elif "id" in top:
                rows.append({"type": top["type"], "id": top["id"]})
        unknown = set(values) - known
        if unknown:
            raise RefusedByClient(
                f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}"
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        message = self.world.messages.get(source.source_message_id or 0)
        return await self._run(
            MODAL_SUBMIT,
            user,
            channel,
            data,
            name=modal["custom_id"],
            message=message,
            strict=strict,
        )

    def _modal_value(
        self, component: dict[str, Any], values: Mapping[str, Any], known: set[str]
    ) -> dict[str, Any]:
        custom_id = component.get("custom_id", "")
        known.add(custom_id)
        kind = component.get("type")
        entry: dict[str, Any] = {"type": kind, "custom_id": custom_id}
        if "id" in component:
            entry["id"] = component["id"]
        if kind == 4:
            value = values.get(custom_id, component.get("value") or "")
            if not isinstance(value, str):
                raise RefusedByClient(f"text input {custom_id!r} takes a string")
            if component.get("required", True) and not value:
                raise RefusedByClient(f"text input {custom_id!r} is required")
            low, high = component.get("min_length", 0), component.get("max_length", 4000)
            if value and not low <= len(value) <= high:
                raise RefusedByClient(
                    f"text input {custom_id!r}: length {len(value)} outside {low}-{high}"
                )
            entry["value"] = value
        elif kind == 3:
            picked = values.get(custom_id, [])
            picked = [picked] if isinstance(picked, str) else list(picked)
            allowed = [o["value"] for o in component.get("options", [])]
            if any(v not in allowed for v in picked):
                raise RefusedByClient(f"select {custom_id!r}: values must be among {allowed}")
            entry["values"] = picked
        return entry

    # -- reading back -----------------------------------------------------------------------

    @property
    def log(self) -> list[RestCall]:
        """Every REST call, in order."""
        return self.rest.log

    def calls(self, method: str | None = None, path: str | None = None) -> list[RestCall]:
        """Logged calls, filtered by method and route template."""
        return [
            c
            for c in self.rest.log
            if (method is None or c.method == method) and (path is None or c.path == path)
        ]

    def responses_to(self, interaction: InteractionResult) -> list[RestCall]:
        """The interaction-token calls (callback, followups, edits) made for one interaction."""
        return interaction.webhook_calls()

    def messages(
        self, channel: FakeChannel | str | int, *, visible_to: Actor | None = None
    ) -> list[FakeMessage]:
        """A channel's messages, optionally as one member sees them (others' ephemerals hidden)."""
        if isinstance(channel, FakeChannel):
            channel_id = channel.id
        elif isinstance(channel, str):
            channel_id = self.world.guild.channel(channel).id
        else:
            channel_id = channel
        viewer = None
        if visible_to is not None:
            viewer = visible_to if isinstance(visible_to, int) else visible_to.id
        return self.world.channel_messages(channel_id, visible_to=viewer)

    def forget(self, result: InteractionResult) -> None:
        """Done with an interaction: drop what the harness and the world keep for it.

        Its token stops answering (as after Discord's 15 minutes) and the messages it created
        (its response and followups, not a message it updated) leave the world. The record
        itself stays readable, minus ``message``/``final``. Nothing calls this by itself; a
        long benchmark does, so that memory measures the bot rather than the fake Discord.
        """
        if self.rest.interactions.get(result.token) is result:
            del self.rest.interactions[result.token]
        for message_id in (result.original_message_id, *result.followup_ids):
            message = self.world.messages.get(message_id or 0)
            if message is not None and message.interaction_id == result.id:
                self.world.forget_message(message)

    def reset_log(self) -> None:
        """Forget logged calls and finished interactions (the benchmark bounds memory with it)."""
        self.rest.log.clear()
        self.rest.interactions.clear()


def on_shard(
    harnesses: Iterable[DiscordHarness], where: FakeGuild | FakeMember | int | None
) -> DiscordHarness:
    """The harness whose client Discord would send this guild's interactions to.

    ``where`` is a guild, a member (their guild), a guild id, or None for direct messages.
    Several sharded clients on one world split its guilds; exactly one runs each.
    """
    if isinstance(where, FakeGuild):
        guild_id: int | None = where.id
    elif isinstance(where, FakeMember):
        guild_id = where.guild_id
    else:
        guild_id = where
    running = [h for h in harnesses if h.runs(guild_id)]
    if len(running) != 1:
        raise LookupError(f"{len(running)} clients run the shard of guild {guild_id}, not one")
    return running[0]


def offline(
    client: discord.Client, world: FakeDiscord | None = None, **options: Any
) -> DiscordHarness:
    """``async with offline(bot) as harness:`` — the usual way in."""
    return DiscordHarness(client, world, **options)
