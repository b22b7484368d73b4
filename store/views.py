"""Read models for members and moderators: an account at a glance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.util.typing import TupleAny

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import accounts, ledger, memberships, order_lines, orders
from store.gift_reference import gift_label


@dataclass(frozen=True)
class MembershipView:
    tier: str
    expires_at: datetime | None
    permanent: bool
    active: bool


def _signed(count: int) -> str:
    return f"{count:+,}"


def _iso_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    created_at: datetime
    reason: str
    points_delta: int
    tier: str | None
    expires_before: datetime | None
    expires_after: datetime | None
    permanent_after: bool | None
    actor_id: int | None
    order_id: int | None
    memo: str | None
    # Set when the entry is a gift from another member: its recipient is shown this
    # reference, never the buyer's order number (see store.gift_reference).
    gift_ref: str | None = None

    def explain(
        self,
        *,
        show_order: bool = False,
        when: Callable[[datetime], str] = _iso_date,
        points: Callable[[int], str] = _signed,
    ) -> str:
        """One line a member can read: what changed and why.

        `show_order` is for moderators, who may see which order a gift came from.
        `when` shows a moment: the bot passes Discord's timestamp markup, which every
        reader sees in their own time zone and language; the store knows no Discord.
        `points` writes a signed count, as the shop's locale groups digits.
        """
        order = f"order #{self.order_id}"
        if self.gift_ref is not None:
            gift = gift_label(self.gift_ref) + (f", {order}" if show_order else "")
            why = {"order_line": gift, "refund": f"{gift} taken back"}.get(self.reason, gift)
        else:
            why = {
                "order_line": order,
                "grant": "granted by a moderator",
                "revocation": "revoked by a moderator",
                "refund": f"refund of {order}",
                "spend": f"spent on {order}",
            }.get(self.reason, self.reason)
        if self.tier is None:
            return f"{points(self.points_delta)} points — {why}"
        if self.permanent_after:
            return f"{self.tier.title()} became permanent — {why}"
        after = when(self.expires_after) if self.expires_after else "now"
        return f"{self.tier.title()} now ends {after} — {why}"


@dataclass(frozen=True)
class AccountView:
    member_id: int
    points: int
    points_reserved: int
    memberships: tuple[MembershipView, ...]
    recent: tuple[LedgerEntry, ...]

    @property
    def points_available(self) -> int:
        return self.points - self.points_reserved


class AccountViews:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def account(self, shop_id: int, member_id: int, *, recent: int = 10) -> AccountView:
        now = self.ctx.now()

        async def load(
            conn: Conn,
        ) -> tuple[Row[*TupleAny] | None, tuple[MembershipView, ...], list[LedgerEntry]]:
            balance = (
                await conn.execute(
                    select(accounts.c.points, accounts.c.points_reserved).where(
                        accounts.c.shop_id == shop_id, accounts.c.member_id == member_id
                    )
                )
            ).first()
            tiers = await conn.execute(
                select(memberships.c.tier, memberships.c.expires_at, memberships.c.permanent)
                .where(memberships.c.shop_id == shop_id, memberships.c.member_id == member_id)
                .order_by(memberships.c.tier)
            )
            # recent=0 (every cart reply) skips the ledger query: one round trip fewer.
            entries = await self._ledger(conn, shop_id, member_id, recent) if recent > 0 else []
            views = tuple(
                MembershipView(
                    tier=row.tier,
                    expires_at=row.expires_at,
                    permanent=bool(row.permanent),
                    active=bool(row.permanent)
                    or (row.expires_at is not None and row.expires_at > now),
                )
                for row in tiers
            )
            return balance, views, entries

        balance, views, entries = await self.ctx.db.read(load)
        points, reserved = (
            (int(balance.points), int(balance.points_reserved)) if balance else (0, 0)
        )
        return AccountView(member_id, points, reserved, views, tuple(entries))

    async def ledger(self, shop_id: int, member_id: int, limit: int = 50) -> list[LedgerEntry]:
        async def load(conn: Conn) -> list[LedgerEntry]:
            return await self._ledger(conn, shop_id, member_id, limit)

        return await self.ctx.db.read(load)

    async def _ledger(
        self, conn: Conn, shop_id: int, member_id: int, limit: int
    ) -> list[LedgerEntry]:
        rows = await conn.execute(
            select(ledger, order_lines.c.gift_ref, orders.c.buyer_id)
            .select_from(
                ledger.outerjoin(order_lines, order_lines.c.id == ledger.c.order_line_id).outerjoin(
                    orders, orders.c.id == ledger.c.order_id
                )
            )
            .where(ledger.c.shop_id == shop_id, ledger.c.member_id == member_id)
            .order_by(ledger.c.id.desc())
            .limit(limit)
        )
        return [
            LedgerEntry(
                id=int(r.id),
                created_at=r.created_at,
                reason=r.reason,
                points_delta=int(r.points_delta),
                tier=r.tier,
                expires_before=r.expires_before,
                expires_after=r.expires_after,
                permanent_after=r.permanent_after,
                actor_id=r.actor_id,
                order_id=r.order_id,
                memo=r.memo,
                gift_ref=(r.gift_ref or "")
                if _is_gift(r.order_line_id, r.buyer_id, member_id)
                else None,
            )
            for r in rows
        ]


def _is_gift(order_line_id: int | None, buyer_id: int | None, member_id: int) -> bool:
    """An order line's entry on someone else's account: a gift they received."""
    return order_line_id is not None and buyer_id is not None and int(buyer_id) != member_id
