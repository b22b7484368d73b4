"""SIGKILL the running storefront at random moments: nothing lost, nothing granted twice.

The application runs as its own process (sandbox mode, SQLite, the fake gateway with a
state file so its sessions and undelivered webhooks survive like a real provider's).
Members shop through the sandbox API and pay on the gateway while the process is
killed and restarted again and again.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from store.db.engine import Database, create_engine
from store.fulfilment import PaymentOutcome
from store.orders import OrderState
from store.shop import Shop
from tests.reliability.apps import (
    GUILD_ID,
    AppProcess,
    SandboxClient,
    app_environment,
    checkout_session_id,
    embed_title,
    free_port,
    gateway_state,
    member_ids,
)
from tests.reliability.conftest import Scale, default_settings
from tests.reliability.ledger_checks import Audit, audit

pytestmark = pytest.mark.asyncio

SKUS = ("points-100", "paid-1m", "paid-2m", "premium-6m")
SETTLE_SECONDS = 60.0


@dataclass
class Tally:
    attempted: Counter[tuple[int, str]] = field(default_factory=Counter)
    acknowledged: Counter[tuple[int, str]] = field(default_factory=Counter)
    sessions: set[str] = field(default_factory=set)
    paid: set[str] = field(default_factory=set)
    requests: int = 0


async def shopper(client: SandboxClient, member: int, rng: random.Random, tally: Tally) -> None:
    """Add, check out and pay at random until the process disappears (bounded)."""
    unpaid: list[str] = []
    for _ in range(200):
        tally.requests += 1
        roll = rng.random()
        if roll < 0.55:
            sku, quantity = rng.choice(SKUS), rng.randint(1, 2)
            tally.attempted[(member, sku)] += quantity
            result = await client.command(member, "cart", "add", item=sku, quantity=quantity)
            if result is None:
                return
            if embed_title(result) == "Added to your cart":
                tally.acknowledged[(member, sku)] += quantity
        elif roll < 0.8 or not unpaid:
            result = await client.command(member, "checkout")
            if result is None:
                return
            session = checkout_session_id(result)
            if session is not None and session not in tally.sessions:
                tally.sessions.add(session)
                unpaid.append(session)
        else:
            session = unpaid.pop(rng.randrange(len(unpaid)))
            status = await client.pay(session)
            if status is None:
                return
            if status == 200:
                tally.paid.add(session)


async def settled(engine_url: str, state_path: Path, app: AppProcess) -> Audit:
    """Wait (bounded) until webhooks are delivered and events applied.

    Effects leased by a killed process wait for their lease to run out (two minutes)
    before another pass delivers them; they are counted, not waited for.
    """
    engine = create_engine(engine_url)
    try:
        result = Audit()
        for _ in range(int(SETTLE_SECONDS * 4)):
            result = await audit(engine)
            state = gateway_state(state_path)
            paid = {s["order_id"] for s in state["sessions"] if s["status"] == "paid"}
            waiting = [o for o in paid if result.orders.get(int(o)) != OrderState.FULFILLED]
            if not state["outbox"] and not waiting and result.unapplied_events == 0:
                return result
            await asyncio.sleep(0.25)
        raise AssertionError(
            f"did not settle: outbox {len(state['outbox'])}, unpaid-but-paid {waiting}, "
            f"unapplied {result.unapplied_events}\n{app.tail()}"
        )
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_copy(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def test_sigkill_at_random_moments_loses_nothing_and_grants_once(
    tmp_path: Path, sqlite_copy: str, scale: Scale, rng: random.Random
) -> None:
    """Every order the gateway marked paid is fulfilled once; no grant twice; no line lost."""
    state_path = tmp_path / "gateway.json"
    port = free_port()
    members = member_ids(scale.members)
    env = app_environment(
        database_url=sqlite_copy, port=port, state_path=state_path, members=scale.members
    )
    app = AppProcess(env, tmp_path / "app.log", port)
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        client = SandboxClient(http, app.url)
        try:
            for _ in range(scale.kill_rounds):
                await app.start(http)
                shoppers = [
                    asyncio.create_task(shopper(client, member, rng, tally)) for member in members
                ]
                await asyncio.sleep(rng.uniform(0.2, 2.5))
                app.kill()
                await asyncio.wait_for(asyncio.gather(*shoppers), timeout=60)
            await app.start(http)
            result = await settled(sqlite_copy, state_path, app)
        finally:
            app.stop()
    state = gateway_state(state_path)
    paid_orders = {int(s["order_id"]) for s in state["sessions"] if s["status"] == "paid"}
    print(
        f"kills survived {app.kills}, requests {tally.requests}, sessions {len(tally.sessions)}, "
        f"paid {len(paid_orders)} (acknowledged {len(tally.paid)}), fulfilled "
        f"{len(result.fulfilled)}, payment events {result.events}, ledger entries "
        f"{result.ledger_entries}, duplicates {result.duplicates}, effects waiting for "
        f"their lease {result.pending_effects}"
    )
    assert app.kills == scale.kill_rounds
    assert result.problems == []
    assert result.duplicates == 0
    # Paid at the gateway ⇔ fulfilled here (nothing paid was lost, nothing unpaid was given).
    assert paid_orders == result.fulfilled
    assert {result.sessions[s] for s in tally.paid} <= result.fulfilled
    # No cart line lost: every acknowledged add is in a cart or a live order.
    for key, acknowledged in tally.acknowledged.items():
        assert acknowledged <= result.held_lines[key] <= tally.attempted[key], key


async def test_event_stored_but_not_applied_is_applied_after_restart(
    tmp_path: Path, sqlite_copy: str
) -> None:
    """Killed between recording a payment event and applying it: the restart applies it."""
    state_path = tmp_path / "gateway.json"
    port = free_port()
    env = app_environment(database_url=sqlite_copy, port=port, state_path=state_path, members=1)
    app = AppProcess(env, tmp_path / "app.log", port)
    [member] = member_ids(1)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        client = SandboxClient(http, app.url)
        try:
            await app.start(http)
            await client.command(member, "cart", "add", item="points-100")
            session_id = checkout_session_id(await client.command(member, "checkout"))
            assert session_id is not None
            async with http.post(f"{app.url}/fake-gateway/faults", json={"drop": True}) as r:
                assert r.status == 200
            assert await client.pay(session_id) == 200
            app.kill()
            # The crash happened right after the receiver stored the event.
            engine = create_engine(sqlite_copy)
            defaults = default_settings()
            shop = Shop.build(Database(engine), defaults.store, defaults.memberships)
            [session] = [s for s in gateway_state(state_path)["sessions"]]
            recorded = await shop.fulfilment.record(
                PaymentOutcome(
                    gateway="fake",
                    event_id="evt_crash_between_record_and_apply",
                    kind="payment_succeeded",
                    order_id=session["order_id"],
                    session_id=session_id,
                    amount=session["total"],
                    currency=session["currency"],
                )
            )
            assert recorded
            order_id = int(session["order_id"])
            order = await shop.orders.get(GUILD_ID, order_id)
            assert order.state is OrderState.PENDING
            await app.start(http)
            for _ in range(100):
                order = await shop.orders.get(GUILD_ID, order_id)
                if order.state is OrderState.FULFILLED:
                    break
                await asyncio.sleep(0.1)
            assert order.state is OrderState.FULFILLED
            account = await shop.accounts.account(GUILD_ID, member)
            assert account.points == 100
            await engine.dispose()
        finally:
            app.stop()
