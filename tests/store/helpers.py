"""Assertions over the whole database, for proving a refusal changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from store.db.engine import Conn, Database
from store.db.schema import accounts, ledger, metadata


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""

    async def every_row(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
        result: dict[str, list[tuple[Any, ...]]] = {}
        for table in metadata.sorted_tables:
            rows = await conn.execute(select(table))
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
