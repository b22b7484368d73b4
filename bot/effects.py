"""Carrying out what the store decided: roles, DMs and moderator alerts.

The store writes effects to its outbox in the transaction that caused them; this
module leases a batch, acts on Discord outside any transaction, and records an
outcome for each. Permanent refusals (closed DMs, a role above the bot's own) are
recorded and reported, never retried; only transient failures are retried, with
backoff, and a member who rejoins or drifts gets their paid roles back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import discord

from bot.render.notices import (
    delivery_failed_embed,
    gift_notice_embed,
    gift_restored_embed,
    gift_withdrawn_embed,
    member_text,
    mention,
    receipt_embed,
    refund_embed,
    reminder_embed,
    renewal_failed_embed,
    review_alert_embed,
    role_problem_embed,
)
from store.effects import (
    AddRole,
    Effect,
    ExpiryReminder,
    GiftNotice,
    GiftRestored,
    GiftWithdrawn,
    Receipt,
    RefundNotice,
    RemoveRole,
    RenewalFailed,
    ReviewAlert,
    StoredEffect,
)
from store.outbox import MAX_ATTEMPTS
from store.shop import Shop
from store.shops import ShopDefinition

log = logging.getLogger("bot.effects")

NO_MENTIONS = discord.AllowedMentions.none()
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
#: Members looked at between two turns of the loop when restoring roles.
RESTORE_YIELD_EVERY = 50
#: How long a guild fetched over REST (one this process does not hold) is reused.
FETCHED_GUILD_SECONDS = 60.0
DISCORD_CANNOT_DM = 50007
MOVE_ROLE_FIX = (
    "Server Settings → Roles: drag the bot's role above {role}, and make sure the bot's "
    "role has the Manage Roles permission. The bot gives the role again when the member "
    "rejoins or the bot restarts; or grant it by hand now."
)

DELIVERED = "delivered"
DM_CLOSED = "dm closed"
MEMBER_GONE = "member not in guild"
GUILD_GONE = "bot not in guild"
USER_GONE = "user not found"
NO_AUDIT_CHANNEL = "logged: no audit channel"
ROLE_GONE = "role not found"

Handler = Callable[[StoredEffect], Awaitable[str]]


class Transient(Exception):
    """Worth trying again later (Discord down, a guild outage, the network)."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, Transient | discord.RateLimited | aiohttp.ClientError | TimeoutError):
        return True
    if isinstance(error, discord.HTTPException):
        return error.status >= 500 or error.status == 429
    return isinstance(error, OSError)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at an hour; the outbox stops after MAX_ATTEMPTS."""
    doublings = min(max(attempts - 1, 0), 16)
    step: timedelta = FIRST_RETRY * (2**doublings)
    return min(step, LAST_RETRY)


@dataclass
class RoleProblems:
    """Refusals gathered during one restore, posted once per role instead of per member."""

    by_role: dict[tuple[int, str], list[int]] = field(default_factory=dict)

    def add(self, role_id: int, why: str, member_id: int) -> None:
        self.by_role.setdefault((role_id, why), []).append(member_id)


class EffectDeliverer:
    """Delivers the outbox for one bot; safe to run in several processes at once.

    `deliver_pending` is the worker job (the outbox lease keeps two runs from taking
    the same effect); `restore_roles` is for start-up (each guild) and rejoining members.
    """

    def __init__(
        self,
        client: discord.Client,
        shop: Shop,
        *,
        holds_guild: Callable[[int], bool] | None = None,
        ready: Callable[[], bool] | None = None,
        manage_link: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self.client = client
        #: Whether the client may act yet; default: its gateway session is ready.
        self.ready = ready or client.is_ready
        #: A subscription's manage token -> the member's "update payment" link.
        self.manage_link = manage_link
        #: Whether this process's cache knows a guild (Discord sends it the guild's
        #: events); any other guild is asked for over REST. Default: every guild.
        self.holds_guild = holds_guild or (lambda guild_id: True)
        self.shop = shop
        #: Guilds this process does not hold, as last fetched over REST, and when: a
        #: burst of role changes asks once, and a role changed since is seen soon after.
        self._fetched_guilds: dict[int, tuple[float, discord.Guild]] = {}
        self._handlers: dict[type[Effect], Handler] = {
            AddRole: self._add_role,
            RemoveRole: self._remove_role,
            GiftNotice: self._gift_notice,
            GiftWithdrawn: self._gift_withdrawn,
            GiftRestored: self._gift_restored,
            Receipt: self._receipt,
            RefundNotice: self._refund_notice,
            ExpiryReminder: self._reminder,
            RenewalFailed: self._renewal_failed,
            ReviewAlert: self._review_alert,
        }

    # -- the outbox -------------------------------------------------------------------------

    async def deliver_pending(self, limit: int = 50) -> int:
        """Deliver one leased batch; returns how many were settled (done with an outcome).

        Before the client is ready nothing is claimed: guilds and members are not known
        yet, and a claim would only burn an attempt. The next run delivers them.
        """
        if not self.ready():
            return 0
        settled = 0
        for stored in await self.shop.outbox.claim(limit):
            if await self._deliver(stored):
                settled += 1
        return settled

    async def _deliver(self, stored: StoredEffect) -> bool:
        """One effect; nothing raised here may stop the rest of the batch."""
        outbox = self.shop.outbox
        kind = stored.effect.kind
        try:
            handler = self._handlers[type(stored.effect)]
            outcome = await handler(stored)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            if stored.attempts >= MAX_ATTEMPTS:
                log.error(
                    "giving up on effect %s (%s) for member %s after %s attempts: %s",
                    stored.id,
                    kind,
                    stored.effect.member_id,
                    stored.attempts,
                    text,
                    exc_info=not is_transient(error),
                )
                await self._give_up(stored, text)
                return True
            delay = backoff(stored.attempts)
            if is_transient(error):
                log.warning(
                    "effect %s (%s) failed for now, retrying in %s: %s",
                    stored.id,
                    kind,
                    delay,
                    text,
                )
            else:
                log.exception("effect %s (%s) failed; retrying in %s", stored.id, kind, delay)
            await outbox.retry_later(stored.id, f"retrying: {text}", delay)
            return False
        await outbox.done(stored.id, outcome)
        return True

    async def _give_up(self, stored: StoredEffect, error: str) -> None:
        embed = delivery_failed_embed(
            kind=stored.effect.kind,
            member_id=stored.effect.member_id,
            attempts=stored.attempts,
            error=error,
        )
        try:
            await self.post_audit(
                embed, f"gave up on effect {stored.id}: {error}", _shop_id(stored)
            )
        except Exception:
            log.exception("could not report giving up on effect %s", stored.id)
        await self.shop.outbox.done(stored.id, f"gave up after {stored.attempts} attempts: {error}")

    # -- roles ------------------------------------------------------------------------------

    async def _add_role(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, AddRole)
        return await self._change_role(stored, stored.effect, add=True)

    async def _remove_role(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, RemoveRole)
        return await self._change_role(stored, stored.effect, add=False)

    async def _change_role(
        self, stored: StoredEffect, effect: AddRole | RemoveRole, *, add: bool
    ) -> str:
        guild = await self._shop_guild(stored)
        if guild is None:
            return GUILD_GONE
        member = await self._member(guild, effect.member_id)
        if member is None:
            return MEMBER_GONE
        action = "give" if add else "remove"
        role = guild.get_role(effect.role_id)
        if role is None:
            await self._report_role(
                guild,
                action=action,
                role_name=f"for tier {effect.tier}",
                role_id=effect.role_id,
                member_ids=[member.id],
                why=f"The role set for the {effect.tier} tier no longer exists in this server.",
                fix="Create the role and set its id for this tier in the bot's configuration, "
                "then restart the bot: paid roles are given back at start-up.",
            )
            return f"{ROLE_GONE}: {effect.role_id}"
        try:
            if add:
                await member.add_roles(role, reason=f"Storefront: {effect.tier} membership")
            else:
                await member.remove_roles(
                    role, reason=f"Storefront: {effect.tier} membership ended"
                )
        except discord.Forbidden as error:
            why = self._why_refused(guild, role, error)
            await self._report_role(
                guild,
                action=action,
                role_name=role.name,
                role_id=role.id,
                member_ids=[member.id],
                why=why,
                fix=MOVE_ROLE_FIX.format(role=role.name),
            )
            return f"forbidden: {why}"
        except discord.NotFound:
            # Left between the look-up and the change.
            return MEMBER_GONE
        return DELIVERED

    def _why_refused(
        self, guild: discord.Guild, role: discord.Role, error: discord.Forbidden
    ) -> str:
        """Discord only says "Missing Permissions"; say which rule was broken."""
        me = guild.me
        if me is not None and not me.guild_permissions.manage_roles:
            return "the bot does not have the Manage Roles permission."
        if me is not None and role >= me.top_role:
            return (
                f"the role {role.name} is not below the bot's highest role "
                f"{me.top_role.name}; Discord lets a bot manage only roles below its own."
            )
        if role.managed:
            return f"the role {role.name} is managed by an integration and cannot be assigned."
        return f"Discord refused ({error.status}, code {error.code}): {error.text or 'no reason'}"

    async def _report_role(
        self,
        guild: discord.Guild,
        *,
        action: str,
        role_name: str,
        role_id: int,
        member_ids: list[int],
        why: str,
        fix: str,
    ) -> None:
        embed = role_problem_embed(
            action=action,
            role=role_name,
            role_id=role_id,
            member_ids=member_ids,
            why=why,
            fix=fix,
        )
        summary = (
            f"could not {action} role {role_name} ({role_id}) in guild {guild.id} "
            f"for members {member_ids}: {why}"
        )
        await self.post_audit(embed, summary, guild.id)

    async def restore_roles(self, guild: discord.Guild, member_id: int | None = None) -> int:
        """Give back paid roles a member lacks; returns how many roles were given.

        Runs without the outbox because nothing new happened in the store: a failure
        here is retried at the next start-up or rejoin. Refusals are reported once per
        role, not once per member, so a misplaced role does not flood the audit channel.
        """
        problems = RoleProblems()
        given = 0
        # Chunk by chunk (the store reads a few hundred memberships at a time) with a
        # turn of the loop every few members: a large guild's restore must not hold
        # every member's interaction behind it.
        async for chunk in self.shop.memberships.roles_due_chunks(guild.id, member_id):
            given += await self._restore_chunk(guild, chunk, problems)
        for (role_id, why), member_ids in problems.by_role.items():
            role = guild.get_role(role_id)
            name = role.name if role is not None else str(role_id)
            try:
                await self._report_role(
                    guild,
                    action="give back",
                    role_name=name,
                    role_id=role_id,
                    member_ids=member_ids,
                    why=why,
                    fix=MOVE_ROLE_FIX.format(role=name),
                )
            except Exception:
                log.exception("restore: could not report a role problem in guild %s", guild.id)
        if given:
            log.info("restored %s paid role(s) in guild %s", given, guild.id)
        return given

    async def _restore_chunk(
        self, guild: discord.Guild, chunk: list[Effect], problems: RoleProblems
    ) -> int:
        """Give back the roles of one chunk of `roles_due`; returns how many were given."""
        due: dict[int, dict[int, str]] = {}
        for effect in chunk:
            if isinstance(effect, AddRole):
                due.setdefault(effect.member_id, {})[effect.role_id] = effect.tier
        given = 0
        for index, (owner_id, roles) in enumerate(due.items()):
            if index and index % RESTORE_YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                member = await self._member(guild, owner_id)
            except Exception as error:
                log.warning("restore: could not look up member %s: %s", owner_id, error)
                continue
            if member is None:
                continue
            for role_id, tier in roles.items():
                if member.get_role(role_id) is not None:
                    continue
                role = guild.get_role(role_id)
                if role is None:
                    problems.add(
                        role_id, f"the role for the {tier} tier no longer exists", owner_id
                    )
                    continue
                try:
                    await member.add_roles(role, reason=f"Storefront: restoring paid {tier} role")
                except discord.Forbidden as error:
                    problems.add(role_id, self._why_refused(guild, role, error), owner_id)
                    continue
                except discord.NotFound:
                    break
                except Exception as error:
                    log.warning(
                        "restore: could not give role %s to member %s: %s", role_id, owner_id, error
                    )
                    continue
                given += 1
        return given

    # -- DMs --------------------------------------------------------------------------------

    async def _gift_notice(self, stored: StoredEffect) -> str:
        effect = stored.effect
        assert isinstance(effect, GiftNotice)
        giver = None
        if effect.giver_id is not None:
            giver = await self._display(stored, effect.giver_id)
        embed = gift_notice_embed(effect, giver, server=await self._server_name(stored))
        return await self._dm(effect.member_id, embed)

    async def _gift_withdrawn(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, GiftWithdrawn)
        embed = gift_withdrawn_embed(stored.effect, server=await self._server_name(stored))
        return await self._dm(stored.effect.member_id, embed)

    async def _gift_restored(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, GiftRestored)
        embed = gift_restored_embed(stored.effect, server=await self._server_name(stored))
        return await self._dm(stored.effect.member_id, embed)

    async def _receipt(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, Receipt)
        embed = receipt_embed(
            stored.effect, server=await self._server_name(stored), locale=await self._locale(stored)
        )
        return await self._dm(stored.effect.member_id, embed)

    async def _refund_notice(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, RefundNotice)
        embed = refund_embed(
            stored.effect, server=await self._server_name(stored), locale=await self._locale(stored)
        )
        return await self._dm(stored.effect.member_id, embed)

    async def _reminder(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, ExpiryReminder)
        embed = reminder_embed(
            stored.effect, server=await self._server_name(stored), locale=await self._locale(stored)
        )
        return await self._dm(stored.effect.member_id, embed)

    async def _renewal_failed(self, stored: StoredEffect) -> str:
        effect = stored.effect
        assert isinstance(effect, RenewalFailed)
        link = self.manage_link(effect.manage_token) if self.manage_link else None
        embed = renewal_failed_embed(effect, server=await self._server_name(stored), fix_url=link)
        return await self._dm(effect.member_id, embed)

    async def _dm(self, user_id: int, embed: discord.Embed) -> str:
        try:
            channel = await self.client.create_dm(discord.Object(user_id))
            await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as error:
            # 50007: DMs closed, no shared server, or the bot is blocked. Recorded, not retried.
            if error.code == DISCORD_CANNOT_DM:
                return DM_CLOSED
            return f"dm refused: {error.text or error.status}"
        except discord.NotFound:
            return USER_GONE
        return DELIVERED

    async def _display(self, stored: StoredEffect, user_id: int) -> str:
        """The giver as the recipient knows them in that server; a mention if unknown."""
        name: str | None = None
        guild = self._cached_guild(stored)
        member = guild.get_member(user_id) if guild is not None else None
        if member is not None:
            name = member.display_name
        else:
            user = self.client.get_user(user_id)
            if user is None:
                try:
                    user = await self.client.fetch_user(user_id)
                except discord.HTTPException:
                    user = None
            if user is not None:
                name = user.display_name
        if name is None:
            return mention(user_id)
        return f"**{member_text(name, 100)}** ({mention(user_id)})"

    # -- moderators -------------------------------------------------------------------------

    async def _review_alert(self, stored: StoredEffect) -> str:
        assert isinstance(stored.effect, ReviewAlert)
        effect = stored.effect
        embed = review_alert_embed(effect, server=await self._server_name(stored))
        summary = f"review needed for order {effect.order_id}: {effect.reason}"
        return await self.post_audit(embed, summary, _shop_id(stored))

    async def post_audit(
        self, embed: discord.Embed, summary: str, shop_id: int, *, channel_id: int | None = None
    ) -> str:
        """Post to the shop's moderators (its audit channel, or `channel_id` of the same
        server); without a usable channel, a WARNING keeps it visible."""
        if channel_id is None:
            channel_id = (await self._shop(shop_id)).profile.audit_channel_id
        if channel_id is None:
            log.warning("no audit channel configured for shop %s; %s", shop_id, summary)
            return NO_AUDIT_CHANNEL
        channel = self.client.get_channel(channel_id)
        try:
            if channel is None:
                channel = await self.client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError(f"channel {channel_id} cannot hold messages")
            home = getattr(getattr(channel, "guild", None), "id", None)
            if shop_id and home != shop_id:
                # The file's channel, in the file's guild: a guild whose shop still
                # follows the file must not post its moderators' actions there.
                raise TypeError(
                    f"channel {channel_id} is in another server; set this server's with "
                    "/shopadmin setup audit_channel"
                )
            await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, discord.NotFound, TypeError) as error:
            log.warning("audit channel %s unusable (%s); %s", channel_id, error, summary)
            return f"audit channel unusable: {error}"
        return DELIVERED

    async def _shop(self, shop_id: int) -> ShopDefinition:
        """The effect's shop; an effect stored without one speaks as the file's shop."""
        if not shop_id:
            return self.shop.template
        return await self.shop.shops.get(shop_id)

    async def _locale(self, stored: StoredEffect) -> str:
        return (await self._shop(_shop_id(stored))).locale

    # -- look-ups ---------------------------------------------------------------------------

    def _cached_guild(self, stored: StoredEffect) -> discord.Guild | None:
        """The shop's guild as the cache knows it; None where this process holds it not."""
        guild_id = _shop_id(stored)
        return self.client.get_guild(guild_id) if self.holds_guild(guild_id) else None

    async def _shop_guild(self, stored: StoredEffect) -> discord.Guild | None:
        """The shop's guild: from the cache if this process holds it, else over REST.

        A sharded process caches only its own shards' guilds and one serving HTTP
        interactions alone caches none, while any process may claim any effect; without
        REST a role for a guild held elsewhere would count as gone.
        """
        guild_id = _shop_id(stored)
        if not guild_id:
            return None
        if self.holds_guild(guild_id):
            guild = self.client.get_guild(guild_id)
            if guild is not None and guild.unavailable:
                raise Transient(f"guild {guild.id} is unavailable (Discord outage)")
            return guild  # absent from the cache means the bot left it
        fetched = self._fetched_guilds.get(guild_id)
        if fetched is not None and time.monotonic() - fetched[0] < FETCHED_GUILD_SECONDS:
            return fetched[1]
        try:
            guild = await self.client.fetch_guild(guild_id, with_counts=False)
        except (discord.NotFound, discord.Forbidden):
            self._fetched_guilds.pop(guild_id, None)
            return None  # the bot is no longer in it
        self._fetched_guilds[guild_id] = (time.monotonic(), guild)
        return guild

    async def _server_name(self, stored: StoredEffect) -> str | None:
        """The shop's server, named in DMs; one held elsewhere is asked for over REST
        through `_shop_guild`'s cache, not once per DM (a DM is still sent, unnamed, if
        that fails)."""
        guild_id = _shop_id(stored)
        if self.holds_guild(guild_id):
            guild = self.client.get_guild(guild_id)
        else:
            try:
                guild = await self._shop_guild(stored)
            except discord.HTTPException:
                return None
        return guild.name if guild is not None else None

    async def _member(self, guild: discord.Guild, member_id: int) -> discord.Member | None:
        member = guild.get_member(member_id)
        if member is not None:
            return member
        try:
            return await guild.fetch_member(member_id)
        except discord.NotFound:
            return None


def _shop_id(stored: StoredEffect) -> int:
    """The guild whose shop stored the effect (0 for one stored without it)."""
    return int(stored.extra.get("shop_id") or 0)
