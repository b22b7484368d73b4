"""Assertions over the whole database, for proving a refusal changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from store.db.engine import Database
from store.db.schema import accounts, ledger, metadata


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with db.read() as conn:
        for table in metadata.sorted_tables:
            rows = await conn.execute(select(table))
            result[table.name] = sorted((tuple(map(repr, row)) for row in rows), key=str)
    return result


async def assert_balances_match_ledger(db: Database) -> None:
    """Each account's points equal the sum of its ledger entries."""
    async with db.read() as conn:
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
    for member, points in balances.items():
        assert int(sums.get(member, 0) or 0) == int(points), f"member {member}"
    for member, total in sums.items():
        assert int(total or 0) == int(balances.get(member, 0)), f"member {member}"
