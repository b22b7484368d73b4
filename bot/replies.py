"""How every interaction is answered: with the cart summary, and never silently.

Handlers return a `Reply`; `Replies.guard` runs them, turns store refusals into a
friendly message, unexpected errors into "something went wrong (ref …)" with the
traceback logged under that reference, adds the cart summary, and picks the right
Discord call (first response, edit, or followup after a defer).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.cooldown import Cooldown
from bot.payflow import PaymentUnavailable
from bot.render.shop import with_cart
from bot.render.text import failure_embed, refusal_embed
from bot.render.views import with_cart_row
from store.carts import CartSummary
from store.errors import StoreError
from store.shop import Shop

log = logging.getLogger("bot.replies")
NO_MENTIONS = discord.AllowedMentions.none()


@dataclass
class Reply:
    embed: discord.Embed
    view: discord.ui.View | None = None
    summary: CartSummary | None = None
    ephemeral: bool = True
    edit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: Attachments (a report's CSV and chart). Over HTTP interactions a first answer
    #: carries none, so a reply with files is given with ``guard(..., defer=True)``.
    files: list[discord.File] = field(default_factory=list)


class Refusal(Exception):
    """A refusal decided in the bot layer (not the store's), shown like a store refusal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Action = Callable[[], Awaitable[Reply]]


def _refusing(message: str) -> Action:
    async def refuse() -> Reply:
        return Reply(refusal_embed(message))

    return refuse


class Replies:
    """Runs every handler's work and answers the interaction with its reply.

    `defer_after`: work still running this long after the interaction was created is
    deferred (acknowledged) so Discord's 3 s limit is met. `ack_first_after`: an
    interaction already this old when its handler starts means the bot is behind (a
    burst queued it): it is acknowledged at once, before the cooldown, the store or
    anything else, so the acknowledgement never waits behind other members' work.
    """

    def __init__(
        self,
        shop: Shop,
        cooldown: Cooldown,
        *,
        defer_after: float = 1.5,
        ack_first_after: float = 0.4,
    ) -> None:
        self.shop = shop
        self.cooldown = cooldown
        self.defer_after = defer_after
        self.ack_first_after = ack_first_after

    async def guard(
        self,
        interaction: discord.Interaction[Any],
        action: Action,
        *,
        mutating: bool = False,
        defer: bool = False,
    ) -> None:
        if self._behind(interaction):
            await self._defer(interaction)
            # Let the interactions queued behind this one be acknowledged before its work
            # runs (over the network the deferral suspends anyway; a quick one may not).
            await asyncio.sleep(0)
        member_id = interaction.user.id
        shop_id = interaction.guild_id
        if shop_id is None:
            await self._send(
                interaction,
                Reply(refusal_embed("The shop works inside the server, not in direct messages.")),
            )
            return
        wait = self.cooldown.retry_after(member_id) if mutating else 0.0
        if wait:
            action = _refusing(f"Slow down a little: try again in {wait:.0f} s.")
        elif defer:
            await self._defer(interaction)
        reply = await self._within_deadline(
            interaction, lambda: self._with_cart(shop_id, member_id, action)
        )
        await self._send(interaction, reply)

    async def _with_cart(self, shop_id: int, member_id: int, action: Action) -> Reply:
        """The action's reply with the member's cart summary (read here if it has none),
        and, while the cart has lines, a Checkout and a View cart button under it: the
        checkout is one press away from every reply, refusals included."""
        reply = await self._run(action)
        if reply.summary is None:
            try:
                reply.summary = await self.shop.carts.view(shop_id, member_id)
            except StoreError:
                reply.summary = None
        if reply.summary is not None:
            has_checkout = False
            # The buttons act on the presser's own cart: never on a message others see.
            if reply.ephemeral and reply.summary.member_id == member_id:
                reply.view, has_checkout = with_cart_row(reply.view, reply.summary)
            with_cart(
                reply.embed,
                reply.summary,
                locale=(await self.shop.shops.get(shop_id)).locale,
                checkout_button=has_checkout,
            )
        return reply

    def _behind(self, interaction: discord.Interaction[Any]) -> bool:
        """The interaction waited in the loop's queue: acknowledge before doing anything.

        Its age counts from its creation (the snowflake), so this also sees the time it
        spent reaching us and the time discord.py's dispatch waited for the loop.
        """
        if interaction.response.is_done():
            return False
        age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        return age >= self.ack_first_after

    async def _within_deadline(self, interaction: discord.Interaction[Any], work: Action) -> Reply:
        """Answer in time even under load: defer when the work outlasts `defer_after`.

        Discord fails an interaction not acknowledged within 3 s of creating it; a
        deferral buys 15 minutes for the followup, so a busy shop is slow rather than
        broken. The time counts from the interaction's creation (its snowflake), so one
        that queued behind a burst before reaching us is acknowledged at once.
        """
        if interaction.response.is_done():
            return await work()
        age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        delay = min(self.defer_after, max(0.0, self.defer_after - age))
        if delay == 0.0:
            await self._defer(interaction)
            return await work()
        # A timer rather than a second task per interaction: most answers beat it.
        deferring: list[asyncio.Task[None]] = []
        timer = asyncio.get_running_loop().call_later(
            delay,
            lambda: deferring.append(asyncio.ensure_future(self._defer(interaction))),
        )
        try:
            reply = await work()
        finally:
            timer.cancel()
        for deferral in deferring:
            await deferral  # the answer must follow the deferral, not race it
        return reply

    async def _defer(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.response.is_done():
            return
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException:
            log.warning("could not defer an interaction")

    async def _run(self, action: Action) -> Reply:
        try:
            return await action()
        except StoreError as refused:
            return Reply(refusal_embed(refused.message))
        except (Refusal, PaymentUnavailable) as refused:
            message = getattr(refused, "message", None) or getattr(refused, "member_message", "")
            return Reply(refusal_embed(str(message)))
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("interaction failed (ref %s)", reference)
            return Reply(failure_embed(reference))

    async def _send(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        kwargs: dict[str, Any] = {"embed": reply.embed, "allowed_mentions": NO_MENTIONS}
        if reply.view is not None:
            kwargs["view"] = reply.view
        if reply.files:
            kwargs["files"] = reply.files
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=reply.ephemeral, **kwargs)
        elif reply.edit:
            kwargs.pop("allowed_mentions")
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.response.send_message(ephemeral=reply.ephemeral, **kwargs)
