"""The door every interaction comes through: the shop serves only its own guilds.

discord.py routes an interaction to the command tree, a view, a dynamic item or a
modal while it parses INTERACTION_CREATE, and offers no public hook ahead of that
routing (``CommandTree.interaction_check`` sees app commands only, and our modals are
read by a listener). Wrapping that one parser is the single place every kind passes —
command, autocomplete, button, select, modal — before any of our code runs, so an
interaction from a guild the shop does not serve is refused there and reaches neither
a cog nor the store, including routes added later.

An empty allow-list admits every guild (development; settings refuse it in
production). Direct messages carry no guild and pass on to ``Replies``, which refuses
them itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import discord
from discord.ext import commands

from bot.render.text import refusal_embed

log = logging.getLogger("bot.guilds")

#: The event the gate dispatches for a refused interaction (listener ``on_<name>``).
REFUSED_EVENT = "foreign_guild_interaction"
REFUSAL = "This shop doesn't serve this server."


class GuildGate:
    def __init__(self, guild_ids: Iterable[int]) -> None:
        self.guild_ids = frozenset(guild_ids)

    def admits(self, guild_id: int | None) -> bool:
        """None is a direct message; an empty allow-list admits every guild."""
        return guild_id is None or not self.guild_ids or guild_id in self.guild_ids

    def install(self, client: commands.Bot) -> None:
        """Put the gate in front of discord.py's INTERACTION_CREATE parser."""
        state = client._connection
        parse: Callable[[Any], None] = state.parsers["INTERACTION_CREATE"]

        def gated(data: Any) -> None:
            raw = data.get("guild_id")
            guild_id = _snowflake(raw)
            if self.admits(guild_id) and (raw is None or guild_id is not None):
                parse(data)
                return
            log.warning(
                "refused an interaction (type %s) from guild %s, which this shop does not "
                "serve (discord.guild_ids)",
                data.get("type"),
                guild_id if guild_id is not None else f"{raw!r:.40}",
            )
            try:
                interaction: discord.Interaction[Any] = discord.Interaction(data=data, state=state)
            except (KeyError, TypeError, ValueError):
                return  # too malformed to answer; discord.py could not have routed it either
            # Answered through discord.py's own event dispatch, so it runs as a task
            # like any handler, not inside the parser.
            client.dispatch(REFUSED_EVENT, interaction)

        state.parsers["INTERACTION_CREATE"] = gated
        client.add_listener(self.refuse, f"on_{REFUSED_EVENT}")

    async def refuse(self, interaction: discord.Interaction[Any]) -> None:
        """A short private refusal; nothing else is read or written."""
        await refuse_privately(interaction, REFUSAL)


async def refuse_privately(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer an interaction no handler will see: privately, or with no suggestions."""
    try:
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(embed=refusal_embed(message), ephemeral=True)
    except discord.HTTPException as error:
        log.warning("could not answer a refused interaction: %s", error)


def _snowflake(value: Any) -> int | None:
    """The guild id, or None when absent or malformed (which the gate then refuses)."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
