"""Every button and select the bot sends is one `Control`, routed by its custom_id.

One DynamicItem whose template matches any custom_id means components keep working
after a restart (the state lives in the custom_id), and a stale, forged or
malformed custom_id still gets a clear answer instead of Discord's "This
interaction failed". Custom ids look like `family:action[:arg...]`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

Handler = Callable[[discord.Interaction[Any], list[str], "discord.ui.Item[Any]"], Awaitable[None]]
Fallback = Callable[[discord.Interaction[Any], str], Awaitable[None]]


class ComponentRouter:
    """Maps `family:action` to a handler; anything else goes to the fallback."""

    def __init__(self, fallback: Fallback) -> None:
        self._routes: dict[str, tuple[Handler, int]] = {}
        self._fallback = fallback

    def route(self, key: str, handler: Handler, *, args: int = 0) -> None:
        self._routes[key] = (handler, args)

    def keys(self) -> frozenset[str]:
        """Every `family:action` routed (what a fuzzer must cover)."""
        return frozenset(self._routes)

    async def dispatch(
        self, interaction: discord.Interaction[Any], item: discord.ui.Item[Any]
    ) -> None:
        custom_id = str(getattr(item, "custom_id", "") or "")
        parts = custom_id.split(":")
        entry = self._routes.get(":".join(parts[:2]))
        if entry is None or len(parts) - 2 != entry[1]:
            await self._fallback(interaction, custom_id)
            return
        handler, _ = entry
        await handler(interaction, parts[2:], item)


#: Any custom_id Discord can carry (1 to 100 characters, newlines included).
ANY_CUSTOM_ID = r"(?P<custom_id>(?s:.){1,100})"


class Control(discord.ui.DynamicItem[discord.ui.Item[Any]], template=ANY_CUSTOM_ID):
    """Wraps whatever component Discord echoed back and hands it to the router."""

    def __init__(self, item: discord.ui.Item[Any]) -> None:
        super().__init__(item)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Control:
        return cls(item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        router: ComponentRouter = interaction.client.router
        await router.dispatch(interaction, self.item)


def button(
    custom_id: str,
    label: str,
    *,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    emoji: str | None = None,
    disabled: bool = False,
) -> Control:
    return Control(
        discord.ui.Button(
            custom_id=custom_id, label=label, style=style, emoji=emoji, disabled=disabled
        )
    )


def select(custom_id: str, placeholder: str, options: Sequence[discord.SelectOption]) -> Control:
    return Control(
        discord.ui.Select(custom_id=custom_id, placeholder=placeholder, options=list(options)[:25])
    )


def user_select(custom_id: str, placeholder: str) -> Control:
    return Control(discord.ui.UserSelect(custom_id=custom_id, placeholder=placeholder))


def view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    """A view that is never stored: every item is a Control, dispatched by pattern."""
    result = discord.ui.View(timeout=None)
    for item in items:
        result.add_item(item)
    return finished(result)


def finished(built: discord.ui.View) -> discord.ui.View:
    """Mark a view as needing no state, so discord.py does not keep it.

    discord.py stores every unfinished view it sends (an ephemeral reply's for 15
    minutes, with a timer task): about 5 KB per reply, several GB at a busy shop's
    rate. Our items are Controls registered once as dynamic items, or links.
    """
    built.stop()
    return built


def link(url: str, label: str) -> discord.ui.Button[Any]:
    return discord.ui.Button(url=url, label=label, style=discord.ButtonStyle.link)
