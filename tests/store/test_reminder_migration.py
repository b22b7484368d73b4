"""Migration 0003 on a database with data: running memberships become due, lines get refs."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from store.db.engine import Database, create_engine
from store.db.migrate import upgrade
from store.db.schema import memberships
from store.db.types import UTCDateTime
from tests.conftest import _admin, postgres_admin_url
from tests.support import ALICE, BOB, CAROL, GUILD

pytestmark = pytest.mark.asyncio

_orders = sa.table(
    "orders",
    sa.column("id", sa.BigInteger()),
    sa.column("shop_id", sa.BigInteger()),
    sa.column("buyer_id", sa.BigInteger()),
    sa.column("state", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("subtotal", sa.BigInteger()),
    sa.column("points_applied", sa.BigInteger()),
    sa.column("points_value", sa.BigInteger()),
    sa.column("cash_due", sa.BigInteger()),
    sa.column("refunded", sa.BigInteger()),
    sa.column("checkout_key", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
_lines = sa.table(
    "order_lines",
    sa.column("id", sa.BigInteger()),
    sa.column("order_id", sa.BigInteger()),
    sa.column("position", sa.Integer()),
    sa.column("sku", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("name", sa.String()),
    sa.column("quantity", sa.Integer()),
    sa.column("unit_price", sa.BigInteger()),
    sa.column("recipient_id", sa.BigInteger()),
    sa.column("anonymous", sa.Boolean()),
    sa.column("spec", sa.JSON()),
)


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of its own, not yet migrated (the shared ones are at head already)."""
    if request.param == "sqlite":
        db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"))
        yield db
        await db.dispose()
        shutil.rmtree(tmp_path, ignore_errors=True)
        return
    admin = postgres_admin_url()
    name = f"storefront_mig_{uuid.uuid4().hex[:12]}"
    await _admin(admin, f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    db = Database(create_engine(url))
    try:
        yield db
    finally:
        await db.dispose()
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_running_memberships_are_due_and_lines_get_gift_references(
    empty_database: Database,
) -> None:
    """Running memberships are due at once; permanent and ended ones are not; refs differ."""
    engine = empty_database.engine
    await upgrade(engine, "0002_money_facts")
    now = datetime.now(UTC)
    rows = [
        (ALICE, now + timedelta(days=20), False),
        (BOB, None, True),
        (CAROL, now - timedelta(days=1), False),
    ]
    async with engine.begin() as conn:
        await conn.execute(
            memberships.insert(),
            [
                {
                    "shop_id": GUILD,
                    "member_id": member,
                    "tier": "paid",
                    "expires_at": expires,
                    "permanent": permanent,
                    "role_active": True,
                    "updated_at": now,
                }
                for member, expires, permanent in rows
            ],
        )
        await conn.execute(
            _orders.insert().values(
                id=1,
                shop_id=GUILD,
                buyer_id=ALICE,
                state="fulfilled",
                currency="USD",
                subtotal=600,
                points_applied=0,
                points_value=0,
                cash_due=600,
                refunded=0,
                checkout_key="1:1",
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            _lines.insert(),
            [
                {
                    "id": line_id,
                    "order_id": 1,
                    "position": line_id,
                    "sku": "paid-1m",
                    "kind": "membership",
                    "name": "Paid, 1 month",
                    "quantity": 1,
                    "unit_price": 300,
                    "recipient_id": recipient,
                    "anonymous": True,
                    "spec": {},
                }
                for line_id, recipient in ((1, BOB), (2, CAROL))
            ],
        )

    await upgrade(engine)

    async with engine.connect() as conn:
        due = dict(
            (await conn.execute(sa.select(memberships.c.member_id, memberships.c.remind_at))).all()
        )
        refs = (await conn.execute(sa.select(sa.column("gift_ref")).select_from(_lines))).all()
    assert due[BOB] is None and due[CAROL] is None
    assert now <= due[ALICE] <= datetime.now(UTC)
    assert len({ref for (ref,) in refs}) == 2
    assert all(ref.startswith("G-") and len(ref) == 10 for (ref,) in refs)
