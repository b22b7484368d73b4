"""What the harness remembers about each call and each interaction, for assertions and timing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.testing.state import FakeDiscord, FakeMessage

#: Interaction callback types (Discord's numbering).
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

#: Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5


@dataclass(eq=False, slots=True)
class RestCall:
    """One REST request the bot made, with Discord's (fake) answer."""

    via: str  # "bot" (HTTPClient, bot token) or "webhook" (interaction token)
    method: str
    path: str  # the route template, e.g. "/channels/{channel_id}/messages"
    url: str  # the path with values filled in
    json: Any
    params: dict[str, Any]
    at: float
    status: int = 200
    response: Any = None
    error_code: int | None = None
    files: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(eq=False)
class Activity:
    """Calls and tasks that followed one input (an interaction, an event, start-up)."""

    calls: list[RestCall] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def calls_to(self, method: str, path: str) -> list[RestCall]:
        return [c for c in self.calls if c.method == method and c.path == path]


@dataclass(eq=False)
class InteractionResult(Activity):
    """One interaction from payload to settled dispatch, and what the member saw of it.

    Times are ``time.perf_counter()`` values; latencies are in seconds.
    """

    id: int = 0
    token: str = ""
    type: int = APPLICATION_COMMAND
    user_id: int = 0
    channel_id: int = 0
    guild_id: int | None = None
    name: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    world: FakeDiscord | None = field(default=None, repr=False)
    source_message_id: int | None = None
    started_at: float = 0.0
    acked_at: float | None = None
    final_at: float | None = None
    callback: dict[str, Any] | None = None
    callback_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    last_message_id: int | None = None
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    #: Set when the first callback came after the acknowledgement deadline (Discord: 10062).
    expired: bool = False
    #: For an interaction delivered over HTTP: the status the bot's endpoint answered.
    http_status: int | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.started_at

    @property
    def final_latency(self) -> float | None:
        """Payload in to the member's final visible content (after any defer)."""
        return None if self.final_at is None else self.final_at - self.started_at

    # -- what the member sees ---------------------------------------------------------------

    def _get(self, message_id: int | None) -> FakeMessage | None:
        if message_id is None or self.world is None:
            return None
        return self.world.messages.get(message_id)

    @property
    def message(self) -> FakeMessage | None:
        """The original response (for a component: the message it updated), current state."""
        return self._get(self.original_message_id)

    @property
    def followups(self) -> list[FakeMessage]:
        found = (self._get(i) for i in self.followup_ids)
        return [m for m in found if m is not None]

    @property
    def messages(self) -> list[FakeMessage]:
        """Original response then followups, as they stand now (deleted ones included)."""
        first = self.message
        return ([first] if first is not None else []) + self.followups

    @property
    def final(self) -> FakeMessage | None:
        """The message this interaction last created or edited."""
        return self._get(self.last_message_id)

    @property
    def content(self) -> str | None:
        final = self.final
        return None if final is None else final.content

    @property
    def embeds(self) -> list[dict[str, Any]]:
        final = self.final
        return [] if final is None else final.embeds

    @property
    def embed(self) -> dict[str, Any]:
        """The single embed of the final message (fails if there is not exactly one)."""
        embeds = self.embeds
        assert len(embeds) == 1, f"expected one embed, got {len(embeds)}"
        return embeds[0]

    @property
    def components(self) -> list[dict[str, Any]]:
        final = self.final
        return [] if final is None else final.components

    @property
    def ephemeral(self) -> bool:
        final = self.final
        return final is not None and final.ephemeral

    def webhook_calls(self) -> list[RestCall]:
        return [c for c in self.calls if c.via == "webhook"]
