"""Every interaction is handled once, however many processes Discord delivers it to.

Two processes logged in with one token each receive every interaction over the
gateway, and an HTTP delivery may be retried; both copies would add to the cart and
one of the answers would fail with "already acknowledged". So before discord.py routes
an interaction anywhere, its id is claimed in the shared database (a unique insert):
the process that wins routes it as usual, the others let it go without a word, since
the winner answers the member.

The claim sits in front of discord.py's INTERACTION_CREATE parser, behind the guild
gate (a foreign guild's interaction is refused before it costs a write). The parser is
synchronous and a claim is a database write, so the claim runs as an event task
(``discord.py: on_interaction_claim``), like any handler, and calls the parser from
there: discord.py then dispatches to commands, views and modals exactly as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import discord
from discord.ext import commands

from bot.guild_gate import refuse_privately
from store.errors import StoreError
from store.interaction_claims import InteractionClaims

log = logging.getLogger("bot.claims")

#: The event the claim runs under (listener ``on_<name>``).
CLAIM_EVENT = "interaction_claim"
#: How long a claim is kept: far beyond the 15 minutes an interaction token lives, after
#: which Discord delivers that interaction to nobody.
CLAIMS_KEPT = timedelta(hours=1)
#: How often old claims are purged.
PURGE_SECONDS = 600.0


class ClaimFirst:
    """Routes an interaction only after this process has claimed its id."""

    def __init__(self, claims: InteractionClaims) -> None:
        self.claims = claims
        self._parse: Callable[[Any], None] | None = None
        self._state: Any = None
        #: Claims waiting for the batch that is about to be written, by interaction id.
        self._waiting: dict[int, asyncio.Future[bool]] = {}

    def install(self, client: commands.Bot) -> None:
        """Put the claim in front of discord.py's INTERACTION_CREATE parser."""
        state = client._connection
        self._state = state
        self._parse = state.parsers["INTERACTION_CREATE"]

        def claimed(data: Any) -> None:
            client.dispatch(CLAIM_EVENT, data)

        state.parsers["INTERACTION_CREATE"] = claimed
        client.add_listener(self.claim_then_route, f"on_{CLAIM_EVENT}")

    async def claim_then_route(self, data: Any) -> None:
        assert self._parse is not None, "install() first"
        try:
            interaction_id = int(data["id"])
        except (KeyError, TypeError, ValueError):
            log.warning("dropped an interaction without a valid id (type %s)", data.get("type"))
            return
        try:
            won = await self._claim(interaction_id)
        except StoreError as error:
            log.warning("could not claim an interaction: %s", error.message)
            await self._refuse(data, error.message)
            return
        except Exception:
            # A bug, not the database being busy: logged in full, and the member still
            # gets an answer rather than "This interaction failed".
            reference = secrets.token_hex(4)
            log.exception("claiming interaction %s failed (ref %s)", interaction_id, reference)
            await self._refuse(data, f"Something went wrong; please try again (ref {reference}).")
            return
        if not won:
            log.info(
                "interaction %s (type %s) was claimed by another process, which answers it",
                interaction_id,
                data.get("type"),
            )
            return
        self._parse(data)

    async def _claim(self, interaction_id: int) -> bool:
        """Claim with every interaction that arrived in the same turn of the loop.

        The first claim of a turn waits one step, so the others read in that turn join
        it, then writes them all in one unit of work: a burst costs a few writes, not
        one per interaction. A duplicate in the same batch waits on the first one's
        answer and loses.
        """
        waiting = self._waiting
        first = waiting.get(interaction_id)
        if first is not None:  # delivered twice in one turn: the first copy is the one
            with contextlib.suppress(Exception):
                await asyncio.shield(first)
            return False
        mine: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        leader = not waiting
        waiting[interaction_id] = mine
        if not leader:
            return await mine
        try:
            await asyncio.sleep(0)
        finally:
            self._waiting = {}  # later arrivals start the next batch
        try:
            won = await self.claims.claim_many(waiting)
        except BaseException as error:
            mine.set_result(False)  # a duplicate waiting on it lets go; no one reads this
            for future in waiting.values():
                if not future.done():
                    if isinstance(error, Exception):
                        future.set_exception(error)
                    else:
                        future.cancel()
            raise
        for claimed_id, future in waiting.items():
            if not future.done():
                future.set_result(claimed_id in won)
        return interaction_id in won

    async def _refuse(self, data: Any, message: str) -> None:
        """No claim, no work: tell the member to try again, as any unit of work would."""
        try:
            interaction: discord.Interaction[Any] = discord.Interaction(
                data=data, state=self._state
            )
        except (KeyError, TypeError, ValueError):
            return  # too malformed to answer
        await refuse_privately(interaction, message)

    async def purge_old(self) -> None:
        """Forget claims older than `CLAIMS_KEPT` (a worker's job)."""
        await self.claims.purge(self.claims.ctx.now() - CLAIMS_KEPT)
