"""Assertions over the whole database, for proving a refusal changed nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from store.db.engine import Conn, Database
from store.db.schema import accounts, ledger, metadata, shops
from store.fulfilment import PaymentOutcome
from store.orders import Order
from store.shop import Shop
from tests.support import GUILD

#: Bookkeeping of deliveries, not shop state: every interaction claims its id, a
#: refused one included, so "nothing changed" is judged without it.
NOT_SHOP_STATE = frozenset({"interaction_claims"})


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds shop state, in a stable order."""

    async def every_row(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
        result: dict[str, list[tuple[Any, ...]]] = {}
        for table in metadata.sorted_tables:
            if table.name in NOT_SHOP_STATE:
                continue
            query = select(table)
            if table is shops:
                # A shop following the file is the file's shop whether or not its row
                # exists yet (first use creates it): only a shop run from Discord counts.
                query = query.where(shops.c.managed.is_(True))
            rows = await conn.execute(query)
            result[table.name] = sorted((tuple(map(repr, row)) for row in rows), key=str)
        return result

    return await db.read(every_row)


async def assert_balances_match_ledger(db: Database) -> None:
    """Each account's points equal the sum of its ledger entries."""

    async def totals(conn: Conn) -> tuple[dict[Any, Any], dict[Any, Any]]:
        sums = dict(
            (
                await conn.execute(
                    select(ledger.c.member_id, func.sum(ledger.c.points_delta)).group_by(
                        ledger.c.member_id
                    )
                )
            ).all()
        )
        balances = dict((await conn.execute(select(accounts.c.member_id, accounts.c.points))).all())
        return sums, balances

    sums, balances = await db.read(totals)
    for member, points in balances.items():
        assert int(sums.get(member, 0) or 0) == int(points), f"member {member}"
    for member, total in sums.items():
        assert int(total or 0) == int(balances.get(member, 0)), f"member {member}"


async def checkout_paid_by_card(shop: Shop, member: int, *, points: int = 0) -> Order:
    """Check the member's cart out and open a (pretend) gateway session for it, as the
    bot does: gateway events move only orders whose session they name."""
    order = (await shop.orders.checkout(GUILD, member, points=points)).order
    if order.cash_due.amount == 0:
        return order
    return await shop.orders.attach_session(
        order.id,
        gateway="fake",
        session_id=f"cs_{order.id}",
        url="http://pay.invalid",
        expires_at=shop.ctx.now() + timedelta(hours=1),
    )


def gateway_event(
    order: Order, kind: str, event_id: str, amount: int | None = None, **more: Any
) -> PaymentOutcome:
    """A fake-gateway event about `order`, naming its session (amount: what it is due)."""
    values: dict[str, Any] = {
        "gateway": "fake",
        "event_id": event_id,
        "kind": kind,
        "order_id": str(order.id),
        "session_id": order.gateway_session_id,
        "amount": order.cash_due.amount if amount is None else amount,
        "currency": "USD",
    }
    return PaymentOutcome(**{**values, **more})
