"""`storefront db backup PATH`: a consistent online copy of the SQLite database."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import cli
from store.db.engine import Conn, Database, create_engine
from store.db.migrate import ensure_schema
from store.db.schema import ledger, orders
from store.fulfilment import PaymentOutcome
from store.shop import Shop
from tests.reliability.conftest import Scale
from tests.reliability.ledger_checks import audit
from tests.support import GUILD, MOD, sample_store, sample_tiers

BUYERS = [100_000_000_000_000_201 + i for i in range(4)]


async def _buy(shop: Shop, member: int, event_id: str) -> None:
    """One paid order: cart, checkout, payment event, fulfilment (ledger entries)."""
    await shop.carts.add(GUILD, member, "points-100")
    await shop.carts.add(GUILD, member, "paid-1m")
    order = (await shop.orders.checkout(GUILD, member)).order
    # Gateway events move only the order whose checkout session they name.
    session_id = f"cs_{order.id}"
    await shop.orders.attach_session(
        order.id, gateway="fake", session_id=session_id, url="u", expires_at=order.created_at
    )
    await shop.fulfilment.apply(
        PaymentOutcome(
            gateway="fake",
            event_id=event_id,
            kind="payment_succeeded",
            order_id=str(order.id),
            session_id=session_id,
            amount=order.cash_due.amount,
            currency="usd",
        )
    )


async def _committed(db: Database) -> tuple[set[int], set[int]]:
    async def ids(conn: Conn) -> tuple[set[Any], set[Any]]:
        order_ids = set((await conn.execute(select(orders.c.id))).scalars())
        ledger_ids = set((await conn.execute(select(ledger.c.id))).scalars())
        return order_ids, ledger_ids

    order_ids, ledger_ids = await db.read(ids)
    return {int(i) for i in order_ids}, {int(i) for i in ledger_ids}


@pytest.mark.asyncio
async def test_backup_while_writing_holds_everything_committed_before_it(
    tmp_path: Path, sqlite_template: Path, scale: Scale, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders and grants keep committing during `db backup`; the restored copy has all
    committed before it began, and is itself consistent (no half transaction)."""
    source = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, source)
    url = f"sqlite+aiosqlite:///{source}"
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", url)
    db = Database(create_engine(url))
    shop = Shop.build(db, sample_store(), sample_tiers())
    writes = 0
    stop = asyncio.Event()

    async def writer() -> None:
        nonlocal writes
        for index in range(scale.backup_writes * 10):
            if stop.is_set():
                return
            member = BUYERS[index % len(BUYERS)]
            await _buy(shop, member, f"evt_{index}")
            await shop.grants.grant_points(GUILD, MOD, member, 5, f"write {index}")
            writes += 1

    task = asyncio.create_task(writer())
    for _ in range(1000):
        if writes >= scale.backup_writes:
            break
        await asyncio.sleep(0.01)
    before_orders, before_ledger = await _committed(db)
    target = tmp_path / "backup.db"
    code = await asyncio.to_thread(cli.main, ["db", "backup", str(target)])
    writes_at_end_of_backup = writes
    for _ in range(1000):  # writes carry on after the copy too: it never blocked them
        if writes > writes_at_end_of_backup or task.done():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await db.dispose()
    assert code == 0
    restored = tmp_path / "restored.db"
    shutil.copyfile(target, restored)
    engine = create_engine(f"sqlite+aiosqlite:///{restored}")
    copy = Database(engine)
    try:
        await ensure_schema(engine, migrate=True)
        after_orders, after_ledger = await _committed(copy)
        result = await audit(engine)

        async def count(conn: Conn) -> Any:
            return (await conn.execute(select(func.count()).select_from(ledger))).scalar_one()

        total = await copy.read(count)
    finally:
        await copy.dispose()  # its database threads and connections, then the engine
    print(
        f"writes before backup {len(before_orders)} orders / {len(before_ledger)} ledger "
        f"entries; in the backup {len(after_orders)} / {total}; lost "
        f"{len(before_orders - after_orders)} / {len(before_ledger - after_ledger)}"
    )
    assert before_orders <= after_orders and before_ledger <= after_ledger
    assert result.problems == [] and result.duplicates == 0
    assert writes > writes_at_end_of_backup or writes == scale.backup_writes * 10


def test_backup_refuses_to_overwrite_unless_forced(
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An existing file stays untouched without --force; --force replaces it."""
    source = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, source)
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", f"sqlite+aiosqlite:///{source}")
    target = tmp_path / "backup.db"
    target.write_text("precious")
    assert cli.main(["db", "backup", str(target)]) == 1
    assert "already exists (pass --force" in capsys.readouterr().err
    assert target.read_text() == "precious"
    assert cli.main(["db", "backup", "--force", str(target)]) == 0
    assert target.read_bytes().startswith(b"SQLite format 3")
    assert not list(tmp_path.glob(".backup.db.*"))


def test_backup_of_postgresql_points_to_pg_dump(
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PostgreSQL is backed up with its own tools; the command says so and writes nothing."""
    monkeypatch.setenv("STOREFRONT_DATABASE__URL", postgres_database)
    target = tmp_path / "backup.db"
    assert cli.main(["db", "backup", str(target)]) == 1
    error = capsys.readouterr().err
    assert "pg_dump" in error and "Traceback" not in error
    assert not target.exists()
