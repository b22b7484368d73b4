"""Two storefront processes on one PostgreSQL database: everything happens once.

Two `storefront run` sandbox processes share a freshly migrated PostgreSQL database,
each with its own web port, fake gateway and simulated Discord guild (the same guild
id and members, so both serve one shop). Members check out alternately through
process A and process B and pay on that process's fake gateway, which delivers the
signed webhook to its own process; every webhook is also replayed, re-signed with the
shared secret, to the other process (and sometimes to its own again) at about the
same moment, so both processes record and apply the same events concurrently. All
workers run in both processes. Memberships that expire within seconds, and others
inside the reminder window, are granted through the store while the processes run.

At the end the database and both simulated guilds must agree that every paid order
was fulfilled once, every event applied once, every effect delivered once (in one of
the two guilds), every reminder sent once and every expired role removed once.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from payments import signing
from store.db.engine import Database, create_engine
from store.db.schema import effects, memberships, payment_events
from store.shop import Shop
from tests.conftest import postgres_admin_url
from tests.reliability.apps import (
    GUILD_ID,
    MODERATOR_ID,
    ROOT,
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
from tests.support import FakeClock

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

SECRET = "two-processes-shared-webhook-secret"
SKUS = ("points-100", "paid-1m", "paid-2m", "premium-6m")
#: The sandbox gives tiers stable role ids: guild id + 10 + index in sorted tier order.
PAID_ROLE = GUILD_ID + 10
#: The reminder and expiry workers' shortest interval the settings allow (`ge=10`).
WORKER_SECONDS = 10
#: Each fake gateway holds a webhook this long before sending it, so the test can read
#: it from the gateway's state file and replay it to the other process at the same time.
HOLD_SECONDS = 0.05
SETTLE_SECONDS = 60.0
DM_KINDS = ("receipt", "expiry_reminder", "gift_notice", "refund_notice")


async def _admin(statement: str) -> None:
    engine = create_engine(postgres_admin_url())
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def shared_database() -> Iterator[str]:
    """A uniquely named PostgreSQL database for this test only, dropped afterwards.

    Never skipped: an unreachable PostgreSQL fails the test and says so.
    """
    admin = postgres_admin_url()
    name = f"storefront_two_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc.__class__.__name__}: {exc}). "
            "Start it (see .ci/run) or set STOREFRONT_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture
async def engine(shared_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(shared_database)
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclass
class Cast:
    """Who does what: shoppers buy, `reminded` get a reminder, `expiring` lose a role."""

    shoppers: list[int]
    reminded: list[int]
    expiring: list[int]

    @classmethod
    def of(cls, scale: Scale) -> Cast:
        everyone = member_ids(scale.members + 2 * scale.memberships)
        shoppers = everyone[: scale.members]
        reminded = everyone[scale.members : scale.members + scale.memberships]
        return cls(shoppers, reminded, everyone[len(shoppers) + len(reminded) :])

    @property
    def everyone(self) -> list[int]:
        return [*self.shoppers, *self.reminded, *self.expiring]


@dataclass
class Tally:
    orders: dict[str, int] = field(default_factory=dict)  # session id → process index
    paid: set[str] = field(default_factory=set)
    replays: Counter[str] = field(default_factory=Counter)
    not_captured: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def _signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The webhook as a gateway sharing the processes' secret sends it, signed now."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    header = signing.sign(body, SECRET, int(time.time()))
    return body, {"Content-Type": "application/json", signing.SIGNATURE_HEADER: header}


async def _post_webhook(
    http: aiohttp.ClientSession, app: AppProcess, payload: dict[str, Any], tally: Tally
) -> None:
    body, headers = _signed(payload)
    async with http.post(f"{app.url}/webhooks/fake", data=body, headers=headers) as response:
        answer = await response.json()
    if response.status != 200:
        tally.failures.append(f"replay to {app.url}: {response.status} {answer}")
    elif answer["new_events"]:
        tally.replays["recorded first"] += 1
    else:
        tally.replays["duplicate"] += 1


def _outgoing(state_path: Path, session_id: str) -> list[dict[str, Any]]:
    """Webhooks the gateway has queued for `session_id` but not yet sent."""
    return [
        o["payload"]
        for o in gateway_state(state_path)["outbox"]
        if o["payload"]["data"]["session_id"] == session_id
    ]


async def _replay(
    http: aiohttp.ClientSession,
    apps: list[AppProcess],
    own: int,
    payloads: list[dict[str, Any]],
    rng: random.Random,
    tally: Tally,
) -> None:
    """Send the same events to the other process, and sometimes to its own again,
    while the own gateway's delivery of them is on its way."""
    await asyncio.sleep(rng.uniform(0, 2 * HOLD_SECONDS))
    targets = [apps[1 - own]]
    if rng.random() < 0.5:
        targets.append(apps[own])
    for payload in payloads:
        tally.replays["to other process"] += 1
        tally.replays["to own process"] += len(targets) - 1
        await asyncio.gather(*(_post_webhook(http, app, payload, tally) for app in targets))


async def shopper(
    member: int,
    clients: list[SandboxClient],
    apps: list[AppProcess],
    orders: int,
    rng: random.Random,
    tally: Tally,
) -> None:
    """Buy `orders` times, through process A and B alternately; replay each webhook."""
    http = clients[0].http
    replays: list[asyncio.Task[None]] = []
    for round_ in range(orders):
        index = (member + round_) % 2
        client = clients[index]
        sku = rng.choice(SKUS)
        tally.requests += 1
        added = await client.command(member, "cart", "add", item=sku, quantity=rng.randint(1, 2))
        if embed_title(added) != "Added to your cart":
            tally.requests += 1
            added = await client.command(member, "cart", "add", item="points-100")
            assert embed_title(added) == "Added to your cart", added
        tally.requests += 1
        session_id = checkout_session_id(await client.command(member, "checkout"))
        assert session_id is not None, f"no Pay link for member {member}"
        tally.orders[session_id] = index
        tally.requests += 1
        status = await client.pay(session_id)
        assert status == 200, (session_id, status)
        tally.paid.add(session_id)
        payloads = _outgoing(apps[index].state_path, session_id)
        if not payloads:
            tally.not_captured += 1  # already sent: nothing to replay against
            continue
        replays.append(asyncio.create_task(_replay(http, apps, index, payloads, rng, tally)))
    await asyncio.gather(*replays)


async def grant_memberships(
    engine: AsyncEngine, reminded: list[int], expiring: list[int], expire_in: timedelta
) -> None:
    """Memberships through the store's own grant path, as a moderator would give them.

    Reminded members get two days (inside the three-day reminder window). Expiring
    members get one day granted under a clock set a day earlier, so they end
    `expire_in` from now: grants come in whole days, the workers use the real clock.
    """
    defaults = default_settings()
    shop = Shop.build(Database(engine), defaults.store, defaults.memberships)
    for member in reminded:
        await shop.grants.grant_time(
            GUILD_ID, MODERATOR_ID, member, "paid", "two-process test: reminder", days=2
        )
    past = FakeClock(datetime.now(UTC) - timedelta(days=1) + expire_in)
    earlier = Shop.build(Database(engine), defaults.store, defaults.memberships, clock=past)
    for member in expiring:
        await earlier.grants.grant_time(
            GUILD_ID, MODERATOR_ID, member, "paid", "two-process test: expiry", days=1
        )


@dataclass
class Rows:
    effects: list[Any]
    memberships: dict[int, Any]
    events: list[Any]


async def read_rows(engine: AsyncEngine) -> Rows:
    async with engine.connect() as conn:
        effect_rows = (await conn.execute(select(effects).order_by(effects.c.id))).all()
        membership_rows = (await conn.execute(select(memberships))).all()
        event_rows = (await conn.execute(select(payment_events))).all()
    return Rows(list(effect_rows), {int(r.member_id): r for r in membership_rows}, list(event_rows))


async def settled(
    engine: AsyncEngine, apps: list[AppProcess], tally: Tally, cast: Cast
) -> tuple[Audit, Rows]:
    """Wait (bounded) until webhooks, events, effects, reminders and expiries are done."""
    waiting: list[str] = []
    for _ in range(int(SETTLE_SECONDS * 4)):
        result = await audit(engine)
        rows = await read_rows(engine)
        states = [gateway_state(app.state_path) for app in apps]
        paid = {
            s["order_id"] for state in states for s in state["sessions"] if s["status"] == "paid"
        }
        kinds = Counter((str(r.kind), int(r.member_id)) for r in rows.effects)
        waiting = [
            *(f"gateway outbox {len(s['outbox'])}" for s in states if s["outbox"]),
            *(f"order {o} paid" for o in paid if result.orders.get(int(o)) != "fulfilled"),
            *([f"{result.unapplied_events} unapplied"] if result.unapplied_events else []),
            *(f"effect {r.id} {r.kind}" for r in rows.effects if r.done_at is None),
            *(f"expiry of {m}" for m in cast.expiring if ("remove_role", m) not in kinds),
            *(f"reminder of {m}" for m in cast.reminded if ("expiry_reminder", m) not in kinds),
        ]
        if not waiting and len(paid) == len(tally.paid):
            return result, rows
        await asyncio.sleep(0.25)
    tails = "\n".join(app.tail(20) for app in apps)
    raise AssertionError(f"did not settle: {waiting[:10]}\n{tails}")


def _holders(state: dict[str, Any]) -> set[int]:
    """Members holding the Paid role in one process's simulated guild."""
    return {
        int(member["id"])
        for member in state["members"]
        if any(role["id"] == str(PAID_ROLE) for role in member["roles"])
    }


def _upgrade(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, log.read_text(errors="replace")


async def test_two_processes_fulfil_remind_and_expire_once(
    tmp_path: Path, shared_database: str, engine: AsyncEngine, scale: Scale, rng: random.Random
) -> None:
    """Every paid order fulfilled once, every effect delivered once, every reminder sent
    once and every expired role removed once, with both processes doing all the work."""
    cast = Cast.of(scale)
    roles = {member: [PAID_ROLE] for member in cast.expiring}
    apps: list[AppProcess] = []
    for name in ("a", "b"):
        port = free_port()
        env = app_environment(
            database_url=shared_database,
            port=port,
            state_path=tmp_path / f"gateway-{name}.json",
            members=len(cast.everyone),
            roles=roles,
            extra={
                "STOREFRONT_PAYMENTS__FAKE__WEBHOOK_SECRET": SECRET,
                "STOREFRONT_WORKERS__OUTBOX_SECONDS": "0.2",
                "STOREFRONT_WORKERS__RECONCILE_SECONDS": str(WORKER_SECONDS),
                "STOREFRONT_WORKERS__PENDING_AGE_MINUTES": "1",
                "STOREFRONT_WORKERS__REMINDERS_SECONDS": str(WORKER_SECONDS),
                "STOREFRONT_WORKERS__EXPIRY_SECONDS": str(WORKER_SECONDS),
            },
        )
        apps.append(AppProcess(env, tmp_path / f"app-{name}.log", port))
    _upgrade(apps[0].env, tmp_path / "upgrade.log")

    half = len(cast.reminded) // 2, len(cast.expiring) // 2
    # Before the processes start: expiring a few seconds after they are up.
    await grant_memberships(
        engine, cast.reminded[: half[0]], cast.expiring[: half[1]], timedelta(seconds=6)
    )
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=30)
    started = time.monotonic()
    shoppers: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(timeout=timeout) as http:
        clients = [SandboxClient(http, app.url) for app in apps]
        try:
            # Started together, so their worker passes (every 10 s) run at the same moments.
            starts = await asyncio.gather(
                *(app.start(http) for app in apps), return_exceptions=True
            )
            for outcome in starts:
                if isinstance(outcome, BaseException):
                    raise outcome
            for client in clients:
                held = _holders(await client.state())
                assert set(cast.expiring) <= held, "the expiring members start with the role"
                await client.faults(delay_seconds=HOLD_SECONDS)
            shoppers = [
                asyncio.create_task(shopper(m, clients, apps, scale.multi_orders, rng, tally))
                for m in cast.shoppers
            ]
            # While they shop: more memberships, expiring while the webhooks fly.
            await asyncio.sleep(0.5)
            await grant_memberships(
                engine, cast.reminded[half[0] :], cast.expiring[half[1] :], timedelta(seconds=3)
            )
            await asyncio.wait_for(asyncio.gather(*shoppers), timeout=120)
            result, rows = await settled(engine, apps, tally, cast)
            dms = [
                {member: await client.dms(member) for member in cast.everyone} for client in clients
            ]
            holders = [_holders(await client.state()) for client in clients]
        finally:
            for task in shoppers:
                task.cancel()
            await asyncio.gather(*shoppers, return_exceptions=True)
            for app in apps:
                app.stop()
    elapsed = time.monotonic() - started
    logs = [app.log_path.read_text(errors="replace") for app in apps]

    # -- payments: each paid order fulfilled once, each event applied once ---------------
    states = [gateway_state(app.state_path) for app in apps]
    paid_orders = {
        int(s["order_id"]) for state in states for s in state["sessions"] if s["status"] == "paid"
    }
    assert tally.failures == []
    assert result.problems == []
    assert result.duplicates == 0
    assert len(paid_orders) == len(tally.paid) == len(tally.orders)
    assert paid_orders == result.fulfilled
    assert {result.sessions[s] for s in tally.paid} == result.fulfilled
    event_keys = Counter((str(r.gateway), str(r.event_id)) for r in rows.events)
    assert all(count == 1 for count in event_keys.values())
    assert len(rows.events) == len(paid_orders)  # one payment_succeeded per paid session
    assert all(r.applied_at is not None and r.outcome == "applied" for r in rows.events), [
        (r.event_id, r.outcome, r.detail) for r in rows.events
    ]

    # -- effects: each delivered once, in one of the two guilds ---------------------------
    assert all(r.done_at is not None and r.outcome == "delivered" for r in rows.effects), [
        (r.id, r.kind, r.outcome) for r in rows.effects if r.outcome != "delivered"
    ]
    claims = Counter(int(r.attempts) for r in rows.effects)
    assert set(claims) == {1}, f"effects claimed more than once: {claims}"
    by_kind = Counter(str(r.kind) for r in rows.effects)
    assert by_kind["receipt"] == len(result.fulfilled)
    dm_effects = Counter(int(r.member_id) for r in rows.effects if r.kind in DM_KINDS)
    dm_counts = [Counter({m: len(messages) for m, messages in world.items()}) for world in dms]
    assert dm_counts[0] + dm_counts[1] == dm_effects
    receipt_titles = Counter(
        str(message["embeds"][0]["title"])
        for world in dms
        for messages in world.values()
        for message in messages
        if message["embeds"] and "Receipt for order" in str(message["embeds"][0].get("title"))
    )
    assert receipt_titles == Counter(f"🧾 Receipt for order #{o}" for o in result.fulfilled)

    # -- reminders: once each, across both processes --------------------------------------
    reminders = Counter(int(r.member_id) for r in rows.effects if r.kind == "expiry_reminder")
    assert all(reminders[m] == 1 for m in cast.reminded), reminders
    assert all(reminders[m] <= 1 for m in cast.expiring), reminders
    assert set(reminders) <= set(cast.reminded) | set(cast.expiring)
    for member in cast.reminded:
        assert rows.memberships[member].reminded_days == 3

    # -- expiry: each expired role removed once, in exactly one guild ---------------------
    removals = Counter(int(r.member_id) for r in rows.effects if r.kind == "remove_role")
    assert removals == Counter(cast.expiring)
    assert not any(rows.memberships[m].role_active for m in cast.expiring)
    removed_in = [[m for m in cast.expiring if m not in held] for held in holders]
    assert sorted(removed_in[0] + removed_in[1]) == sorted(cast.expiring)

    # -- neither process logged an error ---------------------------------------------------
    for app, log in zip(apps, logs, strict=True):
        bad = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
        assert bad == [], f"{app.log_path.name}: {bad[:5]}"

    per_process = Counter(tally.orders.values())
    print(
        f"two processes on PostgreSQL, {elapsed:.1f} s: orders {len(tally.orders)} "
        f"(A {per_process[0]}, B {per_process[1]}), paid {len(paid_orders)}, fulfilled "
        f"{len(result.fulfilled)}, payment events {len(rows.events)}, webhook replays "
        f"{dict(tally.replays)} (not captured {tally.not_captured}), ledger entries "
        f"{result.ledger_entries}, duplicates granted {result.duplicates}; effects "
        f"{dict(by_kind)}, DMs A {sum(dm_counts[0].values())} B {sum(dm_counts[1].values())}; "
        f"reminders {sum(reminders.values())} ({len(cast.reminded)} due), roles removed A "
        f"{len(removed_in[0])} B {len(removed_in[1])} ({len(cast.expiring)} expired); "
        f"requests {tally.requests}"
    )
