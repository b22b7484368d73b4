"""Signed webhooks over HTTP move only the order whose own checkout session they name.

The webhook secret is the attacker's here (the fake gateway's is public in development):
a correctly signed event that names an order but not that order's session is answered
200, recorded as refused for review, and changes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.db.engine import Conn
from store.db.schema import payment_events
from store.orders import OrderState
from tests.store.helpers import snapshot
from tests.support import ALICE, BOB, GUILD, MOD
from tests.web.conftest import Storefront

pytestmark = pytest.mark.asyncio


async def _checkout(sf: Storefront, member: int = ALICE, sku: str = "paid-1m") -> tuple[int, str]:
    await sf.shop.carts.add(GUILD, member, sku)
    outcome = await sf.flow.checkout(GUILD, member)
    assert outcome.session is not None
    return outcome.order.id, outcome.session.session_id


async def _send(
    sf: Storefront, kind: str, order_id: int, session_id: str, amount: int, event_id: str
) -> None:
    payload = {
        "id": event_id,
        "type": kind,
        "created": 0,
        "data": {
            "session_id": session_id,
            "order_id": str(order_id),
            "amount": amount,
            "currency": "USD",
            "subject_id": None,
        },
    }
    body, headers = sf.gateway.render_webhook(payload)
    response = await sf.http.post(f"{sf.url}/webhooks/fake", data=body, headers=headers)
    assert response.status == 200


async def _outcome(sf: Storefront, event_id: str) -> tuple[str | None, str | None]:
    async def read(conn: Conn) -> tuple[str | None, str | None]:
        row = (
            await conn.execute(
                select(payment_events.c.outcome, payment_events.c.detail).where(
                    payment_events.c.event_id == event_id
                )
            )
        ).one()
        return row.outcome, row.detail

    return await sf.shop.ctx.db.read(read)


async def test_payment_with_an_empty_session_id_is_refused(storefront: Storefront) -> None:
    """The old hole: an empty session id skipped the check. Now: refused, recorded."""
    order_id, _ = await _checkout(storefront)
    before = await snapshot(storefront.shop.ctx.db)
    await _send(storefront, "payment_succeeded", order_id, "", 300, "evt_empty")
    outcome, detail = await _outcome(storefront, "evt_empty")
    assert outcome == "refused" and "names no checkout session" in (detail or "")
    after = await snapshot(storefront.shop.ctx.db)
    assert after["orders"] == before["orders"] and after["ledger"] == before["ledger"]
    assert (await storefront.shop.orders.get(GUILD, order_id)).state is OrderState.PENDING


async def test_payment_with_another_orders_session_is_refused(storefront: Storefront) -> None:
    """Bob's paid session cannot pay Alice's order."""
    alice_order, _ = await _checkout(storefront, ALICE)
    _, bob_session = await _checkout(storefront, BOB)
    await _send(storefront, "payment_succeeded", alice_order, bob_session, 300, "evt_other")
    outcome, detail = await _outcome(storefront, "evt_other")
    assert outcome == "refused" and "another order" in (detail or "")
    assert (await storefront.shop.orders.get(GUILD, alice_order)).state is OrderState.PENDING
    assert await storefront.shop.accounts.ledger(GUILD, ALICE) == []


async def test_refund_with_an_empty_session_id_takes_nothing_back(storefront: Storefront) -> None:
    """A forged refund of a paid order, naming no session: the member keeps the order."""
    order_id, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert (await storefront.shop.orders.get(GUILD, order_id)).state is OrderState.FULFILLED
    await _send(storefront, "refund_succeeded", order_id, "", 300, "evt_refund")
    assert (await _outcome(storefront, "evt_refund"))[0] == "refused"
    assert (await storefront.shop.orders.get(GUILD, order_id)).state is OrderState.FULFILLED
    account = await storefront.shop.accounts.account(GUILD, ALICE)
    assert [m.active for m in account.memberships] == [True]


async def test_events_for_a_points_only_order_are_refused(storefront: Storefront) -> None:
    """Paid wholly with points, it has no session: no gateway event moves it."""
    await storefront.shop.grants.grant_points(GUILD, MOD, ALICE, 100, "seed")
    await storefront.shop.carts.add(GUILD, ALICE, "trial-7d")
    order = (await storefront.flow.checkout(GUILD, ALICE, points=100)).order
    assert order.state is OrderState.FULFILLED
    _, other_session = await _checkout(storefront, BOB)
    before = await snapshot(storefront.shop.ctx.db)
    await _send(storefront, "dispute_lost", order.id, other_session, 0, "evt_p1")
    await _send(storefront, "refund_succeeded", order.id, "", 0, "evt_p2")
    for event_id in ("evt_p1", "evt_p2"):
        assert (await _outcome(storefront, event_id))[0] == "refused"
    after = await snapshot(storefront.shop.ctx.db)
    for table in ("orders", "ledger", "accounts", "memberships"):
        assert after[table] == before[table], table
