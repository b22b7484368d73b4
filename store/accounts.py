"""Points balances and memberships, changed only through ledger entries.

Every change of points or time writes one append-only `ledger` row in the same
transaction, so a balance always equals the sum of its entries and every expiry
date can be explained line by line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update

from store.clock import add_months
from store.config import TierConfig
from store.db.engine import Conn
from store.db.schema import accounts, ledger, memberships
from store.db.sql import insert_ignore
from store.effects import AddRole, Effect, RemoveRole
from store.errors import InsufficientPoints, InvalidInput
from store.kinds.base import MembershipState
from store.reminder_schedule import schedule_after_change


class Reason(StrEnum):
    ORDER_LINE = "order_line"
    GRANT = "grant"
    REVOCATION = "revocation"
    REFUND = "refund"
    SPEND = "spend"
    #: A subscription's renewal, its grace period, or either taken back.
    SUBSCRIPTION = "subscription"


@dataclass(frozen=True)
class Source:
    """Why and by whom a change happened; recorded on its ledger entry."""

    reason: Reason
    actor_id: int | None = None
    order_id: int | None = None
    order_line_id: int | None = None
    grant_id: int | None = None
    memo: str | None = None


@dataclass(frozen=True)
class TimeChange:
    tier: str
    expires_before: datetime | None
    expires_after: datetime | None
    permanent_before: bool
    permanent_after: bool
    applied_at: datetime | None = None

    def gained(self) -> timedelta | None:
        """How much time this change added (None for permanent or removals)."""
        if self.permanent_after or self.expires_after is None:
            return None
        base = self.applied_at or self.expires_before
        if self.expires_before is not None and base is not None:
            base = max(base, self.expires_before)
        if base is None:
            return None
        return max(self.expires_after - base, timedelta(0))


@dataclass(frozen=True)
class TakeBack:
    """What one take-back of an order line removed: points debited, time changes made."""

    points: int
    time: tuple[TimeChange, ...]


class AccountBook:
    """Account operations inside one unit of work (the caller commits)."""

    def __init__(
        self,
        conn: Conn,
        shop_id: int,
        now: datetime,
        tiers: Mapping[str, TierConfig],
    ) -> None:
        self.conn = conn
        self.shop_id = shop_id
        self.now = now
        self.tiers = tiers

    # ---- points -------------------------------------------------------------

    async def _ensure_account(self, member_id: int) -> None:
        await insert_ignore(
            self.conn,
            accounts,
            {
                "shop_id": self.shop_id,
                "member_id": member_id,
                "points": 0,
                "points_reserved": 0,
                "updated_at": self.now,
            },
            conflict=["shop_id", "member_id"],
        )

    def _account_key(self, member_id: int) -> Any:
        return and_(accounts.c.shop_id == self.shop_id, accounts.c.member_id == member_id)

    async def balance(self, member_id: int) -> tuple[int, int]:
        """(points, reserved) — reserved points belong to pending orders."""
        parameters = {"shop_id": self.shop_id, "member_id": member_id}
        row = (await self.conn.execute(_BALANCE, parameters)).first()
        return (int(row.points), int(row.points_reserved)) if row else (0, 0)

    async def credit_points(self, member_id: int, amount: int, source: Source) -> int:
        if amount <= 0:
            raise InvalidInput("The number of points must be positive.")
        await self._ensure_account(member_id)
        result = await self.conn.execute(
            update(accounts)
            .where(self._account_key(member_id))
            .values(points=accounts.c.points + amount, updated_at=self.now)
            .returning(accounts.c.points)
        )
        await self._write_points_entry(member_id, amount, source)
        return int(result.scalar_one())

    async def debit_points(
        self, member_id: int, amount: int, source: Source, *, partial: bool = False
    ) -> int:
        """Take points that are not reserved; never below zero.

        With `partial`, take what there is (for claw-backs) and return how many
        were taken; otherwise refuse when the free balance is short.
        """
        if amount <= 0:
            raise InvalidInput("The number of points must be positive.")
        points, reserved = await self.balance(member_id)
        free = points - reserved
        take = min(amount, free) if partial else amount
        if take > free:
            raise InsufficientPoints(f"Not enough points: {free} available, {amount} needed.")
        if take <= 0:
            return 0
        result = await self.conn.execute(
            update(accounts)
            .where(self._account_key(member_id))
            .where(accounts.c.points - accounts.c.points_reserved >= take)
            .values(points=accounts.c.points - take, updated_at=self.now)
        )
        if result.rowcount != 1:
            raise InsufficientPoints("Not enough points.")
        await self._write_points_entry(member_id, -take, source)
        return take

    async def reserve_points(self, member_id: int, amount: int) -> None:
        """Hold points for a pending order so they can't be spent twice."""
        await self._ensure_account(member_id)
        result = await self.conn.execute(
            update(accounts)
            .where(self._account_key(member_id))
            .where(accounts.c.points - accounts.c.points_reserved >= amount)
            .values(points_reserved=accounts.c.points_reserved + amount, updated_at=self.now)
        )
        if result.rowcount != 1:
            raise InsufficientPoints("Not enough points for this order.")

    async def release_points(self, member_id: int, amount: int) -> None:
        await self.conn.execute(
            update(accounts)
            .where(self._account_key(member_id))
            .values(points_reserved=accounts.c.points_reserved - amount, updated_at=self.now)
        )

    async def capture_points(self, member_id: int, amount: int, source: Source) -> None:
        """Turn a reservation into a spend."""
        await self.conn.execute(
            update(accounts)
            .where(self._account_key(member_id))
            .values(
                points=accounts.c.points - amount,
                points_reserved=accounts.c.points_reserved - amount,
                updated_at=self.now,
            )
        )
        await self._write_points_entry(member_id, -amount, source)

    async def _write_points_entry(self, member_id: int, delta: int, source: Source) -> None:
        await self.conn.execute(
            ledger.insert().values(
                shop_id=self.shop_id,
                member_id=member_id,
                created_at=self.now,
                points_delta=delta,
                **_source_columns(source),
            )
        )

    # ---- memberships --------------------------------------------------------

    def _membership_key(self, member_id: int, tier: str) -> Any:
        return and_(
            memberships.c.shop_id == self.shop_id,
            memberships.c.member_id == member_id,
            memberships.c.tier == tier,
        )

    async def membership(self, member_id: int, tier: str) -> MembershipState | None:
        parameters = {"shop_id": self.shop_id, "member_id": member_id, "tier": tier}
        row = (await self.conn.execute(_MEMBERSHIP, parameters)).first()
        if row is None:
            return None
        return MembershipState(expires_at=row.expires_at, permanent=bool(row.permanent))

    async def extend_membership(
        self,
        member_id: int,
        tier: str,
        source: Source,
        *,
        months: int = 0,
        days: int = 0,
        permanent: bool = False,
    ) -> list[Effect]:
        """Add time from max(now, current expiry); calendar months; or make it permanent.

        A member's first time of a tier inserts the row. Another transaction (another
        process fulfilling the member's other order) may insert it first; then the insert
        waits for it, does nothing, and the time is added to that row instead.
        """
        for _ in range(2):  # the second pass finds the row the other transaction made
            current = await self.membership(member_id, tier)
            if current is not None and current.permanent:
                raise InvalidInput(f"This member's {tier} membership is already permanent.")
            before = current.expires_at if current else None
            if permanent:
                after: datetime | None = None
            else:
                start = max(self.now, before) if before is not None else self.now
                after = add_months(start, months) + timedelta(days=days)
            change = TimeChange(tier, before, after, False, permanent, self.now)
            if await self._set_membership(member_id, change, current is not None, role_active=True):
                break
        else:
            raise RuntimeError(f"membership {member_id}/{tier} could be neither made nor found")
        await self._write_time_entry(member_id, change, source)
        return self._role_effects(member_id, tier, give=True)

    async def shorten_membership(
        self,
        member_id: int,
        tier: str,
        source: Source,
        *,
        by: timedelta | None = None,
        undo: TimeChange | None = None,
    ) -> list[Effect]:
        """Take time back: `by` a duration, or what a recorded change (`undo`) added.

        Never before now: time already used stays used.
        """
        current = await self.membership(member_id, tier)
        if current is None:
            raise InvalidInput(f"This member has no {tier} membership.")
        after: datetime | None
        if undo is not None and undo.permanent_after:
            after = undo.expires_before or self.now
        elif current.permanent:
            if undo is not None:
                return []  # made permanent since; the timed line no longer counts
            after = self.now
        else:
            taken = undo.gained() if undo is not None else by
            expires = current.expires_at or self.now
            after = (
                self.now if taken is None and undo is None else expires - (taken or timedelta(0))
            )
        after = max(after, self.now)
        change = TimeChange(tier, current.expires_at, after, current.permanent, False)
        still_active = after > self.now
        await self._set_membership(member_id, change, True, role_active=still_active)
        await self._write_time_entry(member_id, change, source)
        return [] if still_active else self._role_effects(member_id, tier, give=False)

    async def _set_membership(
        self,
        member_id: int,
        change: TimeChange,
        exists: bool,
        *,
        role_active: bool,
        keep_reminders: bool = False,
    ) -> bool:
        """Write the membership row; False when it was to be new but another transaction
        created it first (nothing written: read it again and recompute)."""
        tier = self.tiers.get(change.tier)
        values = {
            "expires_at": change.expires_after,
            "permanent": change.permanent_after,
            **schedule_after_change(
                change.expires_before,
                change.expires_after,
                permanent=change.permanent_after,
                reminder_days=tier.reminder_days if tier is not None else (),
                sent_days=memberships.c.reminded_days if exists else None,
                keep_sent=keep_reminders,
            ),
            "role_active": role_active,
            "updated_at": self.now,
        }
        if exists:
            await self.conn.execute(
                update(memberships)
                .where(self._membership_key(member_id, change.tier))
                .values(**values)
            )
            return True
        return await insert_ignore(
            self.conn,
            memberships,
            {"shop_id": self.shop_id, "member_id": member_id, "tier": change.tier, **values},
            conflict=["shop_id", "member_id", "tier"],
        )

    async def _write_time_entry(self, member_id: int, change: TimeChange, source: Source) -> None:
        await self.conn.execute(
            ledger.insert().values(
                shop_id=self.shop_id,
                member_id=member_id,
                created_at=self.now,
                points_delta=0,
                tier=change.tier,
                expires_before=change.expires_before,
                expires_after=change.expires_after,
                permanent_before=change.permanent_before,
                permanent_after=change.permanent_after,
                **_source_columns(source),
            )
        )

    def _role_effects(self, member_id: int, tier: str, *, give: bool) -> list[Effect]:
        tier_config = self.tiers.get(tier)
        if tier_config is None or tier_config.role_id is None:
            return []
        if give:
            return [AddRole(member_id=member_id, tier=tier, role_id=tier_config.role_id)]
        return [RemoveRole(member_id=member_id, tier=tier, role_id=tier_config.role_id)]

    async def give_back_time(
        self, member_id: int, source: Source, taken: TimeChange
    ) -> list[Effect]:
        """Undo one take-back exactly: give back the time it removed, or the permanence.

        The time is added from max(now, current expiry), as a purchase would be: days
        that passed while it was taken away were not the member's to use, so they are
        not counted as used. Nothing is added to a membership made permanent since.
        """
        current = await self.membership(member_id, taken.tier)
        if current is None or current.permanent:
            return []
        before = current.expires_at
        if taken.permanent_before and not taken.permanent_after:
            after: datetime | None = None
        else:
            removed = timedelta(0)
            if taken.expires_before is not None and taken.expires_after is not None:
                removed = max(taken.expires_before - taken.expires_after, timedelta(0))
            after = max(self.now, before or self.now) + removed
        permanent = after is None
        change = TimeChange(taken.tier, before, after, False, permanent, self.now)
        active = permanent or (after is not None and after > self.now)
        # An undo, not new time: reminders already sent for this expiry stay sent.
        await self._set_membership(member_id, change, True, role_active=active, keep_reminders=True)
        await self._write_time_entry(member_id, change, source)
        return self._role_effects(member_id, taken.tier, give=True) if active else []

    async def line_take_back(self, order_line_id: int) -> TakeBack:
        """What the line's last take-back actually removed (its refund entries since the
        line was last given), so giving the line back returns exactly that."""
        entries = await self._line_entries(order_line_id, Reason.REFUND, since=Reason.ORDER_LINE)
        points = -sum(delta for delta, _ in entries)
        time = tuple(change for _, change in entries if change is not None)
        return TakeBack(points=max(points, 0), time=time)

    async def line_time_changes(self, order_line_id: int) -> list[TimeChange]:
        """The time changes an order line made, to undo them on a refund.

        Only those since the line was last taken back: a line given again (its refund
        failed) and then taken back again loses its time once, not twice.
        """
        entries = await self._line_entries(order_line_id, Reason.ORDER_LINE, since=Reason.REFUND)
        return [change for _, change in entries if change is not None]

    async def _line_entries(
        self, order_line_id: int, reason: Reason, *, since: Reason
    ) -> list[tuple[int, TimeChange | None]]:
        """The line's ledger entries of `reason` made after its last entry of `since`, as
        (points delta, time change or None)."""
        last = (
            select(func.max(ledger.c.id))
            .where(ledger.c.order_line_id == order_line_id)
            .where(ledger.c.reason == since.value)
            .scalar_subquery()
        )
        rows = await self.conn.execute(
            select(
                ledger.c.points_delta,
                ledger.c.tier,
                ledger.c.expires_before,
                ledger.c.expires_after,
                ledger.c.permanent_before,
                ledger.c.permanent_after,
                ledger.c.created_at,
            )
            .where(ledger.c.order_line_id == order_line_id)
            .where(ledger.c.reason == reason.value)
            .where(ledger.c.id > func.coalesce(last, 0))
            .order_by(ledger.c.id)
        )
        return [
            (
                int(row.points_delta or 0),
                None
                if row.tier is None
                else TimeChange(
                    row.tier,
                    row.expires_before,
                    row.expires_after,
                    bool(row.permanent_before),
                    bool(row.permanent_after),
                    row.created_at,
                ),
            )
            for row in rows
        ]


def _source_columns(source: Source) -> dict[str, Any]:
    return {
        "reason": source.reason.value,
        "actor_id": source.actor_id,
        "order_id": source.order_id,
        "order_line_id": source.order_line_id,
        "grant_id": source.grant_id,
        "memo": source.memo,
    }


# Read on every Add and checkout: built once (see store.carts).
_BALANCE = select(accounts.c.points, accounts.c.points_reserved).where(
    accounts.c.shop_id == bindparam("shop_id"), accounts.c.member_id == bindparam("member_id")
)
_MEMBERSHIP = (
    select(memberships.c.expires_at, memberships.c.permanent)
    .where(
        memberships.c.shop_id == bindparam("shop_id"),
        memberships.c.member_id == bindparam("member_id"),
        memberships.c.tier == bindparam("tier"),
    )
    .with_for_update()
)
