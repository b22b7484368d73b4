"""Two deployments share one Stripe account: each acts only on its own events.

Staging and production (two apps, two databases) with one Stripe account and one
webhook secret, so every event reaches both endpoints, and both have an order #1.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.engine import make_url

from store.db.engine import Conn, Database
from store.db.schema import payment_events
from store.orders import OrderState
from tests.conftest import _admin, _migrate, postgres_admin_url
from tests.payments.stripe_api_stub import StripeStub
from tests.support import ALICE, GUILD, FakeClock
from tests.web.stripe_storefront import StripeStorefront, deliver, start_stripe_storefront

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def other_database_url(
    database: Database, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A second, migrated database of the same kind: the other deployment's."""
    if database.is_sqlite:
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "other-deployment.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    admin = postgres_admin_url()
    name = f"storefront_other_{uuid.uuid4().hex[:12]}"
    await _admin(admin, f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        await _migrate(url)
        yield url
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture
async def fronts(
    database_url: str, other_database_url: str, stub: StripeStub, clock: FakeClock
) -> AsyncIterator[tuple[StripeStorefront, StripeStorefront]]:
    staging, stop_staging = await start_stripe_storefront(database_url, stub, clock)
    production, stop_production = await start_stripe_storefront(other_database_url, stub, clock)
    yield staging, production
    await stop_production()
    await stop_staging()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _events(front: StripeStorefront) -> list[str]:
    async def read(conn: Conn) -> list[str]:
        return list((await conn.execute(select(payment_events.c.event_id))).scalars())

    return await front.shop.ctx.db.read(read)


async def _state(front: StripeStorefront, order_id: int) -> OrderState:
    return (await front.shop.orders.get(GUILD, order_id)).state


async def _ledger(front: StripeStorefront) -> int:
    return len(await front.shop.accounts.ledger(GUILD, ALICE))


def _ignored(caplog: pytest.LogCaptureFixture, event_id: str, instance: str) -> bool:
    return any(
        event_id in r.getMessage() and instance in r.getMessage() and "ignored" in r.getMessage()
        for r in caplog.records
        if r.name == "bot.payflow" and r.levelno in (logging.INFO, logging.WARNING)
    )


async def test_each_deployment_fulfils_only_its_own_order_one(
    fronts: tuple[StripeStorefront, StripeStorefront],
    stub: StripeStub,
    clock: FakeClock,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both order #1s paid; each payment event reaches both: each fulfils only its own."""
    caplog.set_level(logging.INFO, logger="bot.payflow")
    staging, production = fronts
    staging_order, staging_session = await staging.checkout(ALICE)
    production_order, production_session = await production.checkout(ALICE)
    assert staging_order == production_order == 1
    assert staging_session != production_session
    staging_id = await staging.flow.deployment.instance_id()
    production_id = await production.flow.deployment.instance_id()
    assert staging_id != production_id

    stub.pay(staging_session)
    paid = stub.event("checkout.session.completed", stub.sessions[staging_session])
    assert await deliver(http, paid, clock, production, staging) == [200, 200]

    assert await _state(staging, staging_order) is OrderState.FULFILLED
    assert await _ledger(staging) == 1
    assert await _state(production, production_order) is OrderState.PENDING
    assert await _ledger(production) == 0 and await _events(production) == []
    assert _ignored(caplog, json.loads(paid)["id"], staging_id)

    stub.pay(production_session)
    paid = stub.event("checkout.session.completed", stub.sessions[production_session])
    assert await deliver(http, paid, clock, staging, production) == [200, 200]
    assert await _state(production, production_order) is OrderState.FULFILLED
    assert await _ledger(production) == 1
    assert await _ledger(staging) == 1 and len(await _events(staging)) == 1


async def test_refunds_and_disputes_reach_only_their_own_deployment(
    fronts: tuple[StripeStorefront, StripeStorefront],
    stub: StripeStub,
    clock: FakeClock,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Staging's refund and a dispute on production's payment each move one order #1."""
    caplog.set_level(logging.INFO, logger="bot.payflow")
    staging, production = fronts
    orders = {}
    for front in fronts:
        order_id, session_id = await front.checkout(ALICE)
        stub.pay(session_id)
        paid = stub.event("checkout.session.completed", stub.sessions[session_id])
        assert await deliver(http, paid, clock, staging, production) == [200, 200]
        orders[front.url] = (order_id, session_id)
    assert {order_id for order_id, _ in orders.values()} == {1}

    # Staging refunds its order; Stripe reports the refund to both endpoints.
    order = await staging.shop.orders.get(GUILD, 1)
    await staging.flow.refund(order, None, "test")
    [refund] = stub.refunds.values()
    assert refund["metadata"]["instance_id"] == await staging.flow.deployment.instance_id()
    refund["status"] = "succeeded"
    body = stub.event("refund.created", refund)
    assert await deliver(http, body, clock, production, staging) == [200, 200]
    assert await _state(staging, 1) is OrderState.REFUNDED
    assert await _state(production, 1) is OrderState.FULFILLED

    # A dispute on production's payment carries none of our ids: both ask Stripe.
    _, production_session = orders[production.url]
    dispute = copy.deepcopy(stub.fixtures["dispute"])
    dispute.update(amount=300, currency="usd", payment_intent=None)
    stub.charge_intents[dispute["charge"]] = stub.sessions[production_session]["payment_intent"]
    body = stub.event("charge.dispute.created", dispute)
    assert await deliver(http, body, clock, staging, production) == [200, 200]
    assert await _state(production, 1) is OrderState.DISPUTED
    assert await _state(staging, 1) is OrderState.REFUNDED
    assert len(await _events(staging)) == 2  # its own payment and refund
    assert len(await _events(production)) == 2  # its own payment and dispute
    production_id = await production.flow.deployment.instance_id()
    assert _ignored(caplog, f"{dispute['id']}:dispute_opened", production_id)


async def test_reconcile_and_the_return_page_leave_another_deployments_session_alone(
    fronts: tuple[StripeStorefront, StripeStorefront],
    stub: StripeStub,
    clock: FakeClock,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A session Stripe says is another deployment's (a restored backup) is not applied."""
    caplog.set_level(logging.INFO, logger="bot.payflow")
    staging, _ = fronts
    order_id, session_id = await staging.checkout(ALICE)
    stub.sessions[session_id]["metadata"]["instance_id"] = "production-elsewhere"
    stub.pay(session_id)
    async with http.get(f"{staging.url}/checkout/return?session_id={session_id}") as response:
        assert "is not one of this shop" in await response.text()
    clock.advance(hours=1)
    assert await staging.flow.reconcile(timedelta(minutes=10)) == []
    assert await _state(staging, order_id) is OrderState.PENDING
    assert await _events(staging) == [] and await _ledger(staging) == 0
    assert _ignored(caplog, f"reconcile:{session_id}", "production-elsewhere")
    assert _ignored(caplog, f"return:{session_id}", "production-elsewhere")
