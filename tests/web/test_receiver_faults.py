"""Our own receiver failing: the gateway's redelivery is applied once.

Another connection holds a write lock on the database, as a long transaction of
another process would; the receiver can't record the event, answers 503, and the
fake gateway delivers again once the lock is gone.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from store.orders import OrderState
from tests.support import ALICE, GUILD
from tests.web.conftest import Storefront

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def writes_locked(database_url: str) -> AsyncIterator[None]:
    """Hold a lock that blocks every insert into payment_events until the block ends."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    raw = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    transaction = raw.transaction()
    await transaction.start()
    await raw.execute("LOCK TABLE payment_events IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await raw.close()


async def test_a_503_from_our_receiver_is_redelivered_and_grants_once(
    storefront: Storefront,
) -> None:
    """First delivery meets a locked database (503); the retry is applied, once."""
    await storefront.shop.carts.add(GUILD, ALICE, "points-100")
    outcome = await storefront.flow.checkout(GUILD, ALICE)
    assert outcome.session is not None
    async with writes_locked(storefront.database_url):
        await storefront.gateway.perform(outcome.session.session_id, "pay")
        for _ in range(300):
            if any(503 in d.responses for d in storefront.gateway.deliveries):
                break
            await asyncio.sleep(0.01)
    await storefront.gateway.drain()
    delivery = next(d for d in storefront.gateway.deliveries if d.type == "payment_succeeded")
    assert delivery.responses[0] == 503 and delivery.responses[-1] == 200
    assert (await storefront.shop.orders.get(GUILD, outcome.order.id)).state is OrderState.FULFILLED
    assert (await storefront.shop.accounts.account(GUILD, ALICE)).points == 100
    assert len(await storefront.shop.accounts.ledger(GUILD, ALICE)) == 1
