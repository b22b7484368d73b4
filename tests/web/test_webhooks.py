"""Webhooks over real HTTP: verified, recorded, applied once, whatever the network does."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.payflow import PaymentFlow
from bot.workers import Periodic
from payments.fake import FaultPlan
from payments.signing import sign
from store.db.engine import Conn, Database, create_engine
from store.db.schema import payment_events
from store.orders import OrderState
from store.shop import Shop
from tests.support import ALICE, BOB, GUILD, sample_store, sample_tiers
from tests.web.conftest import SECRET, Storefront

pytestmark = pytest.mark.asyncio


async def _checkout(sf: Storefront, sku: str = "paid-1m", member: int = ALICE) -> tuple[int, str]:
    await sf.shop.carts.add(GUILD, member, sku)
    outcome = await sf.flow.checkout(GUILD, member)
    assert outcome.session is not None
    return outcome.order.id, outcome.session.session_id


async def _state(sf: Storefront, order_id: int) -> OrderState:
    return (await sf.shop.orders.get(GUILD, order_id)).state


def _payload(
    session_id: str, order_id: int, amount: int, event_id: str = "evt_manual"
) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "payment_succeeded",
        "created": 0,
        "data": {
            "session_id": session_id,
            "order_id": str(order_id),
            "amount": amount,
            "currency": "USD",
            "subject_id": None,
        },
    }


async def _events_stored(sf: Storefront) -> int:
    async def count(conn: Conn) -> int:
        return int(
            (await conn.execute(select(func.count()).select_from(payment_events))).scalar_one()
        )

    return await sf.shop.ctx.db.read(count)


async def test_paying_on_the_hosted_page_fulfils_the_order(storefront: Storefront) -> None:
    """GET the page, POST pay, follow the redirect: the order is paid and fulfilled."""
    order_id, session_id = await _checkout(storefront)
    page = await storefront.http.get(f"{storefront.url}/fake-gateway/checkout/{session_id}")
    assert page.status == 200 and "Paid, 1 month" in await page.text()
    response = await storefront.http.post(
        f"{storefront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=True
    )
    assert response.status == 200
    assert "back to Discord" in await response.text()
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.FULFILLED
    assert len(await storefront.shop.accounts.ledger(GUILD, ALICE)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Storefront-Signature": "garbage"},
        {"Storefront-Signature": "t=1,v1=00"},
    ],
)
async def test_unsigned_or_badly_signed_webhooks_are_refused(
    storefront: Storefront, headers: dict[str, str]
) -> None:
    """400 and nothing stored."""
    body = json.dumps({"id": "evt_x", "type": "payment_succeeded"}).encode()
    response = await storefront.http.post(
        f"{storefront.url}/webhooks/fake", data=body, headers=headers
    )
    assert response.status == 400
    assert await _events_stored(storefront) == 0


async def test_webhook_with_one_byte_changed_is_refused(storefront: Storefront) -> None:
    """A signature over other bytes does not verify."""
    order_id, session_id = await _checkout(storefront)
    body, headers = storefront.gateway.render_webhook(_payload(session_id, order_id, 300))
    tampered = body.replace(b'"amount":300', b'"amount":301')
    assert tampered != body
    response = await storefront.http.post(
        f"{storefront.url}/webhooks/fake", data=tampered, headers=headers
    )
    assert response.status == 400
    assert await _state(storefront, order_id) is OrderState.PENDING


async def test_webhook_for_another_gateway_name_is_not_found(storefront: Storefront) -> None:
    """Only the configured gateway has an endpoint."""
    response = await storefront.http.post(f"{storefront.url}/webhooks/stripe", data=b"{}")
    assert response.status == 404


async def test_duplicate_deliveries_grant_once(storefront: Storefront) -> None:
    """The gateway sends every event twice; one grant."""
    storefront.gateway.faults = FaultPlan(duplicate=True)
    order_id, session_id = await _checkout(storefront, "points-100")
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.FULFILLED
    assert (await storefront.shop.accounts.account(GUILD, ALICE)).points == 100


async def test_concurrent_copies_of_one_webhook_grant_once(storefront: Storefront) -> None:
    """Ten copies of one signed event at once: one grant."""
    storefront.gateway.faults = FaultPlan(drop=True)
    order_id, session_id = await _checkout(storefront, "points-100")
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    body, headers = storefront.gateway.render_webhook(_payload(session_id, order_id, 1000))
    responses = await asyncio.gather(
        *(
            storefront.http.post(f"{storefront.url}/webhooks/fake", data=body, headers=headers)
            for _ in range(10)
        )
    )
    assert {r.status for r in responses} == {200}
    assert (await storefront.shop.accounts.account(GUILD, ALICE)).points == 100
    assert await _state(storefront, order_id) is OrderState.FULFILLED


async def test_redirect_and_webhook_together_grant_once(storefront: Storefront) -> None:
    """The return page and the webhook race; one grant."""
    _, session_id = await _checkout(storefront, "points-100")
    await storefront.gateway.perform(session_id, "pay")
    await asyncio.gather(
        storefront.gateway.drain(),
        storefront.http.get(f"{storefront.url}/checkout/return?session_id={session_id}"),
    )
    assert (await storefront.shop.accounts.account(GUILD, ALICE)).points == 100
    assert len(await storefront.shop.accounts.ledger(GUILD, ALICE)) == 1


@pytest.mark.parametrize(
    "faults",
    [FaultPlan(amount_delta=-1), FaultPlan(currency="EUR")],
    ids=["one unit short", "other currency"],
)
async def test_money_that_does_not_match_is_held(storefront: Storefront, faults: FaultPlan) -> None:
    """A signed event with the wrong money: held for review, nothing granted."""
    storefront.gateway.faults = faults
    order_id, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.HELD
    assert await storefront.shop.accounts.ledger(GUILD, ALICE) == []


async def test_event_naming_another_members_order_is_held(storefront: Storefront) -> None:
    """Alice's payment can't fulfil Bob's order."""
    bob_order, _ = await _checkout(storefront, member=BOB)
    storefront.gateway.faults = FaultPlan(order_id=str(bob_order))
    _, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert await _state(storefront, bob_order) is OrderState.PENDING
    assert await storefront.shop.accounts.ledger(GUILD, BOB) == []


async def test_expired_after_completed_stays_paid(storefront: Storefront) -> None:
    """Reordered: completed, then a late expiry; still fulfilled."""
    storefront.gateway.faults = FaultPlan(reorder=True)
    order_id, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.FULFILLED


async def test_dropped_webhook_is_recovered_by_reconciliation(storefront: Storefront) -> None:
    """Nothing arrives; the reconciler asks the gateway and fulfils."""
    storefront.gateway.faults = FaultPlan(drop=True)
    order_id, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.PENDING
    storefront.shop.ctx.clock.advance(minutes=20)  # type: ignore[attr-defined]
    await storefront.flow.reconcile(timedelta(minutes=10))
    assert await _state(storefront, order_id) is OrderState.FULFILLED


async def test_reconciliation_expires_lapsed_sessions(storefront: Storefront) -> None:
    """An unpaid session past its expiry lapses; the lines return to the cart."""
    order_id, _ = await _checkout(storefront)
    storefront.shop.ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    await storefront.flow.reconcile(timedelta(minutes=10))
    await storefront.gateway.drain()
    assert await _state(storefront, order_id) is OrderState.EXPIRED
    assert len((await storefront.shop.carts.view(GUILD, ALICE)).lines) == 1


async def test_concurrent_checkouts_open_one_gateway_session(storefront: Storefront) -> None:
    """Double-clicking Checkout gives one order and one hosted page."""
    await storefront.shop.carts.add(GUILD, ALICE, "paid-1m")
    first, second = await asyncio.gather(
        storefront.flow.checkout(GUILD, ALICE), storefront.flow.checkout(GUILD, ALICE)
    )
    assert first.order.id == second.order.id
    assert first.session is not None and second.session is not None
    assert first.session.session_id == second.session.session_id


async def test_healthz(storefront: Storefront) -> None:
    """The process answers health checks."""
    response = await storefront.http.get(f"{storefront.url}/healthz")
    assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_stale_signature_is_refused(storefront: Storefront) -> None:
    """A correctly signed but old delivery is refused."""
    body = b'{"id": "evt_old"}'
    old = int(storefront.shop.ctx.now().timestamp()) - 3600
    headers = {"Storefront-Signature": sign(body, SECRET, old)}
    response = await storefront.http.post(
        f"{storefront.url}/webhooks/fake", data=body, headers=headers
    )
    assert response.status == 400


async def test_checkout_retry_after_a_gateway_failure_gets_the_same_session(
    storefront: Storefront,
) -> None:
    """The order's request is rebuilt identically, so the idempotency key holds."""
    await storefront.shop.carts.add(GUILD, ALICE, "paid-1m")
    first = await storefront.flow.checkout(GUILD, ALICE)
    assert first.session is not None
    storefront.shop.ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
    again = await storefront.flow.session_for(first.order)
    assert again.session_id == first.session.session_id


async def test_reconciliation_worker_recovers_a_dropped_webhook(storefront: Storefront) -> None:
    """Running on its interval, the worker fulfils an order whose webhook never came."""
    storefront.gateway.faults = FaultPlan(drop=True)
    order_id, session_id = await _checkout(storefront)
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    storefront.shop.ctx.clock.advance(minutes=20)  # type: ignore[attr-defined]
    worker = Periodic("reconcile", 0.01, lambda: storefront.flow.reconcile(timedelta(minutes=10)))
    worker.start()
    try:
        for _ in range(200):
            if await _state(storefront, order_id) is OrderState.FULFILLED:
                break
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    assert await _state(storefront, order_id) is OrderState.FULFILLED


async def test_two_processes_reconciling_at_once_grant_once(storefront: Storefront) -> None:
    """Reconcilers in two processes (two engines) see the same paid session; one grant."""
    storefront.gateway.faults = FaultPlan(drop=True)
    order_id, session_id = await _checkout(storefront, "points-100")
    await storefront.gateway.perform(session_id, "pay")
    await storefront.gateway.drain()
    storefront.shop.ctx.clock.advance(minutes=20)  # type: ignore[attr-defined]
    other_db = Database(create_engine(storefront.database_url))
    other = PaymentFlow(
        Shop.build(other_db, sample_store(), sample_tiers(), clock=storefront.shop.ctx.clock),
        storefront.gateway,
        public_url=storefront.url,
    )
    try:
        await asyncio.gather(
            storefront.flow.reconcile(timedelta(minutes=10)),
            other.reconcile(timedelta(minutes=10)),
        )
    finally:
        await other_db.dispose()
    assert await _state(storefront, order_id) is OrderState.FULFILLED
    assert (await storefront.shop.accounts.account(GUILD, ALICE)).points == 100
    assert len(await storefront.shop.accounts.ledger(GUILD, ALICE)) == 1


async def test_signed_event_of_an_unknown_type_is_acknowledged_and_ignored(
    storefront: Storefront,
) -> None:
    """200, nothing stored, nothing changed."""
    order_id, session_id = await _checkout(storefront)
    payload = _payload(session_id, order_id, 300)
    payload["type"] = "payout_sent"
    body, headers = storefront.gateway.render_webhook(payload)
    response = await storefront.http.post(
        f"{storefront.url}/webhooks/fake", data=body, headers=headers
    )
    assert response.status == 200
    assert await _events_stored(storefront) == 0
    assert await _state(storefront, order_id) is OrderState.PENDING


async def test_an_order_that_never_got_a_session_returns_to_the_cart(
    storefront: Storefront,
) -> None:
    """Checkout crashed before the gateway call: reconciliation gives the lines back later."""
    await storefront.shop.carts.add(GUILD, ALICE, "paid-1m")
    order = (await storefront.shop.orders.checkout(GUILD, ALICE)).order  # no session opened
    storefront.shop.ctx.clock.advance(minutes=30)  # type: ignore[attr-defined]
    await storefront.flow.reconcile(timedelta(minutes=10))
    assert await _state(storefront, order.id) is OrderState.PENDING  # not yet past its TTL
    storefront.shop.ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
    await storefront.flow.reconcile(timedelta(minutes=10))
    assert await _state(storefront, order.id) is OrderState.EXPIRED
    assert len((await storefront.shop.carts.view(GUILD, ALICE)).lines) == 1
