"""Two web processes behind a load balancer, on one PostgreSQL database, no gateway.

Each process takes interactions over HTTP only; the test plays the load balancer and
sends each step of one member's purchase to the other process than the step before.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from nacl.signing import SigningKey

from bot.testing import FakeDiscord, FakeGuild, FakeMember
from bot.testing.harness import CALLBACK_ROUTE as CALLBACK
from tests.bot.http_support import WebProcess, outbox_empty, shop_guild, web_process
from tests.support import FakeClock

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """Only PostgreSQL: the database several processes share."""
    return postgres_database


@dataclass
class Deployment:
    world: FakeDiscord
    guild: FakeGuild
    alice: FakeMember
    bob: FakeMember
    processes: list[WebProcess]
    #: Connected to the gateway for guild events; Discord posts it no interactions.
    events: WebProcess


@pytest_asyncio.fixture
async def two_web_processes(database_url: str, clock: FakeClock) -> AsyncIterator[Deployment]:
    world = FakeDiscord()
    guild = shop_guild(world)
    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    key = SigningKey.generate()
    async with (
        web_process(database_url, world, guild, clock, key) as first,
        web_process(database_url, world, guild, clock, key) as second,
        web_process(database_url, world, guild, clock, key, gateway_events=True) as events,
    ):
        yield Deployment(world, guild, alice, bob, [first, second], events)


async def test_the_whole_flow_served_by_two_web_processes_in_turn(
    two_web_processes: Deployment,
) -> None:
    """Browse → add → gift → checkout → pay → webhook → role, each step on the other one."""
    deployment = two_web_processes
    world, guild, processes = deployment.world, deployment.guild, deployment.processes
    alice, bob = deployment.alice, deployment.bob
    turns = itertools.cycle(processes)  # each step on the other process

    def next_process() -> WebProcess:
        return next(turns)

    browse = await next_process().harness.slash(alice, "shop")
    item = await next_process().harness.select(alice, browse, "shop:pick", ["paid-1m"])
    added = await next_process().harness.press(alice, item, "shop:add:paid-1m")
    gift = await next_process().harness.slash(
        alice, "cart", "add", options={"item": "points-100", "for": bob, "note": "enjoy"}
    )
    cart = await next_process().harness.slash(alice, "cart", "view")
    checkout = await next_process().harness.press(alice, cart, f"cart:checkout:{alice.id}")
    for step in (browse, item, added, gift, cart, checkout):
        callbacks = [c.via for c in step.calls if c.path == CALLBACK]
        assert (step.http_status, callbacks) == (200, ["http"]), step.name
    [pay] = [c for row in checkout.components for c in row["components"]]
    seller = next(p for p in processes if pay["url"].startswith(p.url))
    async with aiohttp.ClientSession() as http:
        session_id = pay["url"].rsplit("/", 1)[1]
        paid = await http.post(f"{seller.url}/fake-gateway/sessions/{session_id}/pay")
        assert paid.status == 200
    await seller.front.bot.gateway.drain()  # type: ignore[attr-defined]
    await outbox_empty(*processes)

    assert guild.role("Paid").id in world.member(alice.id).roles
    shop = processes[0].front.shop
    assert (await shop.accounts.account(guild.id, bob.id)).points == 100
    assert any("enjoy" in str(m.embeds) for m in world.dms(bob.id))
    cart_now = await shop.carts.view(guild.id, alice.id)
    assert cart_now.item_count == 0


async def test_only_the_gateway_events_process_holds_a_gateway_session(
    two_web_processes: Deployment,
) -> None:
    deployment = two_web_processes
    assert [p.front.bot.is_ready() for p in deployment.processes] == [False, False]
    assert deployment.events.front.bot.is_ready()
    assert deployment.events.front.bot.holds_guild(deployment.guild.id)


async def test_a_member_who_rejoins_gets_the_role_back_from_the_gateway_events_process(
    two_web_processes: Deployment,
) -> None:
    """Bought over HTTP; the role comes back on rejoin through the one gateway process."""
    deployment = two_web_processes
    web, alice = deployment.processes[0], deployment.alice
    paid_role = deployment.guild.role("Paid").id
    shop = web.front.shop
    await shop.grants.grant_time(deployment.guild.id, 1, alice.id, "paid", "test", days=30)
    await outbox_empty(*deployment.processes)
    member = deployment.world.member(alice.id)
    member.roles.remove(paid_role)

    await deployment.events.harness.member_join(member)

    assert paid_role in deployment.world.member(alice.id).roles
