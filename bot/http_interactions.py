"""Interactions over HTTP: Discord posts each one to ``{web.public_url}/interactions``.

Discord signs every request with the application's Ed25519 key over the timestamp
header and the raw body; what the public key does not verify gets 401 and nothing
runs (PyNaCl checks it). A PING, which Discord sends to test the endpoint, gets a
PONG. Any other interaction goes into discord.py's own INTERACTION_CREATE parser,
behind the guild gate and the claim, exactly as one read from the gateway: the same
commands, components and modals answer it.

Discord expects the first answer in the HTTP response. discord.py sends that answer
(its interaction callback) through the webhook adapter it reads from a context
variable; for the interaction being served we put an adapter there that hands the
callback to the waiting request instead of posting it, and lets discord.py go on only
once the response is written, so later edits and follow-ups (over REST, as usual)
never overtake it. The tasks discord.py starts for the interaction inherit that
context; every other request keeps the usual adapter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import discord
from aiohttp import web
from discord.http import MultipartParameters
from discord.webhook.async_ import AsyncWebhookAdapter, async_context
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

log = logging.getLogger("bot.http_interactions")

PING = 1
PONG = 1
DEFERRED_CHANNEL_MESSAGE = 5
EPHEMERAL = 1 << 6
#: The largest interaction Discord sends is far below this.
MAX_INTERACTION_BYTES = 256 * 1024
#: A signed request older or newer than this is refused: a replay after the claims
#: that would stop it are purged must not run again.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
#: How long a request waits for the bot's first answer (Discord waits 3 s).
ANSWER_WITHIN_SECONDS = 2.9


class InteractionEndpoint:
    """The ``POST /interactions`` route for one bot."""

    def __init__(
        self,
        client: discord.Client,
        public_key: str,
        *,
        accepting: Callable[[], bool],
        answer_within: float = ANSWER_WITHIN_SECONDS,
    ) -> None:
        self.client = client
        #: Whether the bot can route an interaction yet (logged in, cogs loaded).
        self.accepting = accepting
        self.key = VerifyKey(bytes.fromhex(public_key))
        self.answer_within = answer_within

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/interactions", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if (request.content_length or 0) > MAX_INTERACTION_BYTES:
            return web.Response(status=413, text="interaction too large")
        body = await request.read()  # the whole body, however it arrives
        if len(body) > MAX_INTERACTION_BYTES:
            return web.Response(status=413, text="interaction too large")
        refusal = self._unverified(request, body)
        if refusal is not None:
            log.warning("refused an interaction request: %s", refusal)
            return web.Response(status=401, text="invalid request signature")
        try:
            data = json.loads(body)
            kind = data["type"]
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an interaction")
        if kind == PING:
            return web.json_response({"type": PONG})
        if not self.accepting():
            # Started, not yet logged in with its commands loaded: refused before the
            # claim, so nothing is lost; Discord shows the member a failure, as it would
            # for a gateway process that is still connecting.
            return web.Response(status=503, text="starting")
        try:
            interaction_id = int(data["id"])
        except (KeyError, TypeError, ValueError):
            return web.Response(status=400, text="not an interaction")
        answer = _AnswerInResponse(interaction_id)
        token = async_context.set(answer)
        try:
            self.client._connection.parsers["INTERACTION_CREATE"](data)
        finally:
            async_context.reset(token)
        return await answer.respond(request, self.answer_within)

    def _unverified(self, request: web.Request, body: bytes) -> str | None:
        """Why the request is not Discord's, or None when its signature holds."""
        signature = request.headers.get("X-Signature-Ed25519", "")
        timestamp = request.headers.get("X-Signature-Timestamp", "")
        if not signature or not timestamp:
            return "no signature"
        try:
            self.key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return "bad signature"
        try:
            sent = int(timestamp)
        except ValueError:
            return "timestamp is not a number"
        # Wall time, not the shop's clock: Discord stamps the request with real time.
        skew = abs(time.time() - sent)
        if skew > TIMESTAMP_TOLERANCE.total_seconds():
            return f"timestamp {skew:.0f} s away from now"
        return None


class _AnswerInResponse(AsyncWebhookAdapter):
    """discord.py's webhook adapter, except that one interaction's first callback is
    handed to the waiting HTTP request rather than posted to Discord."""

    def __init__(self, interaction_id: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.interaction_id = interaction_id
        loop = asyncio.get_running_loop()
        self._callback: asyncio.Future[MultipartParameters] = loop.create_future()
        #: True once the response is written; False if the request gave up first.
        self._written: asyncio.Future[bool] = loop.create_future()

    async def create_interaction_response(
        self,
        interaction_id: int,
        token: str,
        *,
        session: Any,
        proxy: str | None = None,
        proxy_auth: Any = None,
        params: MultipartParameters,
    ) -> Any:
        if interaction_id == self.interaction_id and not self._callback.done():
            self._callback.set_result(params)
            if await self._written:
                return _callback_answer(interaction_id, params)
        # Not ours, or the request stopped waiting: post it, as over the gateway.
        return await super().create_interaction_response(
            interaction_id,
            token,
            session=session,
            proxy=proxy,
            proxy_auth=proxy_auth,
            params=params,
        )

    async def respond(self, request: web.Request, within: float) -> web.StreamResponse:
        """The bot's first answer as the response; whatever happens, the bot goes on."""
        try:
            return await self._respond(request, within)
        finally:
            self._give_up()  # no-op once written; else the callback is posted instead

    async def _respond(self, request: web.Request, within: float) -> web.StreamResponse:
        try:
            params = await asyncio.wait_for(asyncio.shield(self._callback), within)
        except TimeoutError:
            log.warning(
                "interaction %s got no answer within %.1f s (claimed by another process, "
                "or the bot is far behind)",
                self.interaction_id,
                within,
            )
            return web.Response(status=503, text="no answer in time")
        if params.files:
            log.error(
                "interaction %s: a first answer with files cannot be sent over HTTP here; "
                "defer first and send the files in the follow-up",
                self.interaction_id,
            )
            return web.Response(status=500, text="unsupported answer")
        response = web.json_response(params.payload)
        await response.prepare(request)
        await response.write_eof()
        self._written.set_result(True)
        return response

    def _give_up(self) -> None:
        if not self._written.done():
            self._written.set_result(False)


def _callback_answer(interaction_id: int, params: MultipartParameters) -> dict[str, Any]:
    """What Discord returns for a callback posted ``with_response`` (without the
    message, which Discord creates only once it reads the HTTP response)."""
    payload = params.payload or {}
    kind = payload.get("type")
    flags = int((payload.get("data") or {}).get("flags") or 0)
    return {
        "interaction": {
            "id": str(interaction_id),
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
    }
