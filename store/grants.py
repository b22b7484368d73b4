"""Moderator grants and revocations of points and time, each audited.

A reason is required, the actor is recorded, and a configured maximum bounds one
action. The grant row and its ledger entry share a transaction.

A moderator cannot grant points or time to themselves unless the deployment allows
it (``allow_self``): a grant is value, and one person both asking and approving is
what the audit trail cannot catch. Revoking from oneself is allowed: it only takes
away, so it cannot enrich anyone, and a moderator correcting their own account
should not need a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.accounts import AccountBook, Reason, Source
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import grants
from store.effects import Effect
from store.errors import InvalidInput, LimitExceeded
from store.outbox import store_effects
from store.text import unstorable

MAX_REASON = 500


class SelfGrant(InvalidInput):
    """A moderator granting to themselves where the deployment does not allow it."""

    code = "self_grant"


@dataclass(frozen=True)
class GrantResult:
    grant_id: int
    action: str
    member_id: int
    actor_id: int
    summary: str
    reason: str
    effects: list[Effect]


class GrantService:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def grant_points(
        self,
        shop_id: int,
        actor_id: int,
        member_id: int,
        points: int,
        reason: str,
        *,
        allow_self: bool = False,
    ) -> GrantResult:
        self._check_self(actor_id, member_id, allow_self)
        return await self._points("grant", shop_id, actor_id, member_id, points, reason)

    async def revoke_points(
        self, shop_id: int, actor_id: int, member_id: int, points: int, reason: str
    ) -> GrantResult:
        """Refused when the member's free balance is short: a balance never goes negative."""
        return await self._points("revoke", shop_id, actor_id, member_id, points, reason)

    async def _points(
        self, verb: str, shop_id: int, actor_id: int, member_id: int, points: int, reason: str
    ) -> GrantResult:
        reason = self._check(reason)
        self._check_points(points)
        return await self._run(
            shop_id,
            actor_id,
            member_id,
            f"{verb}_points",
            reason,
            f"{points:,} points {verb.rstrip('e')}ed",
            points=points,
        )

    async def grant_time(
        self,
        shop_id: int,
        actor_id: int,
        member_id: int,
        tier: str,
        reason: str,
        *,
        months: int = 0,
        days: int = 0,
        permanent: bool = False,
        allow_self: bool = False,
    ) -> GrantResult:
        self._check_self(actor_id, member_id, allow_self)
        reason = self._check(reason)
        await self._check_tier(shop_id, tier)
        self._check_time(months, days, permanent)
        what = "permanent" if permanent else _duration(months, days)
        return await self._run(
            shop_id,
            actor_id,
            member_id,
            "grant_time",
            reason,
            f"{what} of {tier} granted",
            tier=tier,
            months=months,
            days=days,
            permanent=permanent,
        )

    async def revoke_time(
        self,
        shop_id: int,
        actor_id: int,
        member_id: int,
        tier: str,
        reason: str,
        *,
        days: int = 0,
        all_time: bool = False,
    ) -> GrantResult:
        """Shorten a membership by `days`, or end it now (`all_time`)."""
        reason = self._check(reason)
        await self._check_tier(shop_id, tier)
        if not all_time:
            self._check_time(0, days, False)
        what = "all time" if all_time else _duration(0, days)
        return await self._run(
            shop_id,
            actor_id,
            member_id,
            "revoke_time",
            reason,
            f"{what} of {tier} revoked",
            tier=tier,
            days=days,
            permanent=all_time,
        )

    # ---- helpers ------------------------------------------------------------

    def _check_self(self, actor_id: int, member_id: int, allow_self: bool) -> None:
        if actor_id == member_id and not allow_self:
            raise SelfGrant(
                "Moderators can't grant points or time to themselves in this shop: ask "
                "another moderator, so every grant has a second pair of eyes."
            )

    def _check(self, reason: str) -> str:
        cleaned = (reason or "").strip()
        if not cleaned:
            raise InvalidInput("A reason is required for every grant or revocation.")
        if len(cleaned) > MAX_REASON:
            raise InvalidInput(f"The reason can be at most {MAX_REASON} characters.")
        bad = unstorable(cleaned)
        if bad is not None:
            raise InvalidInput(f"The reason can't contain control characters (it has {bad}).")
        return cleaned

    def _check_points(self, points: int) -> None:
        limit = self.ctx.config.max_points_per_grant
        if points <= 0:
            raise InvalidInput("The number of points must be positive.")
        if points > limit:
            raise LimitExceeded(f"At most {limit:,} points can be granted or revoked at once.")

    async def _check_tier(self, shop_id: int, tier: str) -> None:
        if tier not in (await self.ctx.shops.get(shop_id)).tiers:
            raise InvalidInput(f"There is no membership tier called {tier!r}.")

    def _check_time(self, months: int, days: int, permanent: bool) -> None:
        if permanent:
            if months or days:
                raise InvalidInput("A permanent grant takes no months or days.")
            return
        if months < 0 or days < 0 or (months == 0 and days == 0):
            raise InvalidInput("Give a positive number of months or days.")
        limit = self.ctx.config.max_days_per_grant
        if months * 31 + days > limit:
            raise LimitExceeded(f"At most {limit} days can be granted or revoked at once.")

    async def _run(
        self,
        shop_id: int,
        actor_id: int,
        member_id: int,
        action: str,
        reason: str,
        summary: str,
        *,
        points: int | None = None,
        tier: str | None = None,
        months: int = 0,
        days: int = 0,
        permanent: bool = False,
    ) -> GrantResult:
        async def record(conn: Conn) -> tuple[int, list[Effect]]:
            now = self.ctx.now()
            result = await conn.execute(
                grants.insert()
                .values(
                    shop_id=shop_id,
                    actor_id=actor_id,
                    member_id=member_id,
                    action=action,
                    points=points,
                    tier=tier,
                    months=months or None,
                    days=days or None,
                    reason=reason,
                    created_at=now,
                )
                .returning(grants.c.id)
            )
            grant_id = int(result.scalar_one())
            tiers = (await self.ctx.shops.get(shop_id, conn)).tiers
            book = AccountBook(conn, shop_id, now, tiers)
            revoke = action.startswith("revoke")
            source = Source(
                Reason.REVOCATION if revoke else Reason.GRANT,
                actor_id=actor_id,
                grant_id=grant_id,
                memo=reason,
            )
            effects: list[Effect] = []
            if points is not None and revoke:
                await book.debit_points(member_id, points, source)
            elif points is not None:
                await book.credit_points(member_id, points, source)
            elif tier is not None and revoke:
                effects = await book.shorten_membership(
                    member_id, tier, source, by=None if permanent else timedelta(days=days)
                )
            elif tier is not None:
                effects = await book.extend_membership(
                    member_id, tier, source, months=months, days=days, permanent=permanent
                )
            await store_effects(conn, effects, order_id=None, now=now, shop_id=shop_id)
            return grant_id, effects

        grant_id, effects = await self.ctx.db.write(record)
        return GrantResult(grant_id, action, member_id, actor_id, summary, reason, effects)


def _duration(months: int, days: int) -> str:
    parts = []
    if months:
        parts.append(f"{months} month{'s' if months != 1 else ''}")
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    return " and ".join(parts)
