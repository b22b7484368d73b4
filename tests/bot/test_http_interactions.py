"""Interactions posted over HTTP to a process without a gateway connection.

The harness signs each interaction with a key the test generated and posts it to the
process's ``/interactions``; the bot's first answer comes back in the HTTP response.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from nacl.signing import SigningKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.gc_tuning import THRESHOLDS
from bot.http_interactions import MAX_INTERACTION_BYTES
from bot.runtime import build_storefront, serving
from bot.testing import FakeDiscord, FakeGuild, FakeMember, payloads
from bot.testing.harness import CALLBACK_ROUTE as CALLBACK
from bot.testing.records import APPLICATION_COMMAND, DEFERRED_CHANNEL_MESSAGE
from store.db.engine import Database
from store.db.schema import interaction_claims
from tests.bot.conftest import _free_port
from tests.bot.http_support import (
    WebProcess,
    http_settings,
    outbox_empty,
    shop_guild,
    web_process,
)
from tests.store.helpers import snapshot
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@dataclass
class OverHttp:
    process: WebProcess
    world: FakeDiscord
    guild: FakeGuild
    alice: FakeMember
    key: SigningKey
    http: aiohttp.ClientSession

    @property
    def endpoint(self) -> str:
        return f"{self.process.url}/interactions"


@pytest_asyncio.fixture
async def over_http(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[OverHttp]:
    world = FakeDiscord()
    guild = shop_guild(world)
    alice = guild.add_member("alice")
    key = SigningKey.generate()
    async with (
        aiohttp.ClientSession() as http,
        web_process(database_url, world, guild, clock, key) as process,
    ):
        yield OverHttp(process, world, guild, alice, key, http)


def _cart_add_body(over: OverHttp) -> bytes:
    harness = over.process.harness
    data = harness.commands.build(
        "cart", ("add",), {"item": "points-100"}, guild_id=over.guild.id, user_id=over.alice.id
    )
    interaction_id = over.world.new_id()
    payload = payloads.interaction_payload(
        over.world,
        interaction_id=interaction_id,
        token=f"itoken-{interaction_id}",
        type=APPLICATION_COMMAND,
        user=over.alice.user,
        channel=next(iter(over.guild.channels.values())),
        data=data,
    )
    return json.dumps(payload).encode()


def _signed(key: SigningKey, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    signature = key.sign(stamp.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}


async def test_a_command_is_answered_in_the_http_response(over_http: OverHttp) -> None:
    """/shop over HTTP: answered in the response, never through the REST callback."""
    shop = await over_http.process.harness.slash(over_http.alice, "shop")
    assert shop.http_status == 200
    assert shop.acknowledged and shop.embed["title"]
    callbacks = [c for c in shop.calls if c.path == CALLBACK]
    assert [c.via for c in callbacks] == ["http"]


async def test_the_process_holds_no_gateway_session(over_http: OverHttp) -> None:
    bot = over_http.process.front.bot
    await over_http.process.harness.slash(over_http.alice, "shop")
    assert not bot.is_ready() and bot.ws is None
    assert not bot.holds_guild(over_http.guild.id)


async def test_a_late_interaction_is_deferred_in_the_response_then_edited(
    over_http: OverHttp,
) -> None:
    """Read late (a backed-up queue): acknowledged at once, the answer follows over REST."""
    harness = over_http.process.harness
    harness.arrival_delay = 1.0
    view = await harness.slash(over_http.alice, "cart", "view")
    assert view.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert view.final_at is not None and "cart" in str(view.embed).lower()


async def test_a_purchase_over_http_gives_the_role_over_rest(over_http: OverHttp) -> None:
    """No gateway cache: the role is given through REST look-ups of guild and member."""
    process, alice = over_http.process, over_http.alice
    h = process.harness
    browse = await h.slash(alice, "shop")
    item = await h.select(alice, browse, "shop:pick", ["paid-1m"])
    await h.press(alice, item, "shop:add:paid-1m")
    checkout = await h.slash(alice, "checkout")
    [pay] = [c for row in checkout.components for c in row["components"]]
    session_id = pay["url"].rsplit("/", 1)[1]
    paid = await over_http.http.post(f"{process.url}/fake-gateway/sessions/{session_id}/pay")
    assert paid.status == 200
    await process.front.bot.gateway.drain()  # type: ignore[attr-defined]
    await outbox_empty(process)
    assert over_http.guild.role("Paid").id in over_http.world.member(alice.id).roles


async def test_a_ping_gets_a_pong(over_http: OverHttp) -> None:
    body = json.dumps({"type": 1, "id": "1", "application_id": "1", "token": "t"}).encode()
    async with over_http.http.post(
        over_http.endpoint, data=body, headers=_signed(over_http.key, body)
    ) as reply:
        assert reply.status == 200
        assert await reply.json() == {"type": 1}


@pytest.mark.parametrize(
    "forge",
    ["no signature", "another key", "body changed after signing", "stale timestamp"],
)
async def test_a_request_discord_did_not_sign_gets_401_and_changes_nothing(
    over_http: OverHttp, database: Database, forge: str
) -> None:
    body = _cart_add_body(over_http)
    headers: dict[str, str] = {}
    if forge == "another key":
        headers = _signed(SigningKey.generate(), body)
    elif forge == "body changed after signing":
        headers = _signed(over_http.key, body)
        body = body.replace(b"points-100", b"points-500")
    elif forge == "stale timestamp":
        headers = _signed(over_http.key, body, timestamp=str(int(time.time()) - 3600))
    before = await snapshot(database)
    async with over_http.http.post(over_http.endpoint, data=body, headers=headers) as reply:
        assert reply.status == 401
    assert await snapshot(database) == before


async def test_an_interaction_posted_twice_changes_the_cart_once(
    over_http: OverHttp, caplog: pytest.LogCaptureFixture
) -> None:
    """A repeated delivery loses the claim: one line, one answer, the copy goes unanswered."""
    body = _cart_add_body(over_http)
    headers = _signed(over_http.key, body)

    async def deliver() -> int:
        async with over_http.http.post(over_http.endpoint, data=body, headers=headers) as reply:
            return reply.status

    statuses = await asyncio.gather(deliver(), deliver())

    assert sorted(statuses) == [200, 503]
    cart = await over_http.process.front.shop.carts.view(over_http.guild.id, over_http.alice.id)
    assert [(line.sku, line.quantity) for line in cart.lines] == [("points-100", 1)]
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_body_arriving_in_pieces_is_verified_whole(over_http: OverHttp) -> None:
    """Discord's larger interactions come in several TCP segments; all are read."""
    body = json.dumps({"type": 1, "id": "1", "padding": "x" * 6000}).encode()
    headers = _signed(over_http.key, body)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]
            await asyncio.sleep(0.01)

    async with over_http.http.post(over_http.endpoint, data=pieces(), headers=headers) as reply:
        assert reply.status == 200
        assert await reply.json() == {"type": 1}


async def test_a_signed_body_that_is_not_json_gets_400(over_http: OverHttp) -> None:
    body = b"{not json"
    async with over_http.http.post(
        over_http.endpoint, data=body, headers=_signed(over_http.key, body)
    ) as reply:
        assert reply.status == 400


async def test_a_body_too_large_for_an_interaction_gets_413(over_http: OverHttp) -> None:
    body = b"x" * (MAX_INTERACTION_BYTES + 1)
    async with over_http.http.post(
        over_http.endpoint, data=body, headers=_signed(over_http.key, body)
    ) as reply:
        assert reply.status == 413


async def test_a_moderator_is_known_without_a_guild_cache_and_the_audit_is_posted(
    over_http: OverHttp,
) -> None:
    """No gateway, no cached roles: the moderator role comes from Discord's signed payload,
    and the audit channel is fetched over REST."""
    mod = over_http.guild.add_member("mod", roles=[over_http.guild.role("Shop moderators").id])
    granted = await over_http.process.harness.slash(
        mod,
        "shopadmin",
        "points",
        "grant",
        options={"member": over_http.alice, "amount": 50, "reason": "welcome"},
    )
    assert "50" in str(granted.embed)
    shop = over_http.process.front.shop
    assert (await shop.accounts.account(over_http.guild.id, over_http.alice.id)).points == 50
    audit = over_http.world.channel_messages(over_http.guild.channel("shop-audit").id)
    assert len(audit) == 1 and "welcome" in str(audit[0].embeds)


async def test_a_member_without_the_role_is_refused_moderator_commands(
    over_http: OverHttp,
) -> None:
    refused = await over_http.process.harness.slash(
        over_http.alice,
        "shopadmin",
        "points",
        "grant",
        options={"member": over_http.alice, "amount": 50, "reason": "me"},
    )
    assert "Only the shop's moderators" in str(refused.embed)
    shop = over_http.process.front.shop
    assert (await shop.accounts.account(over_http.guild.id, over_http.alice.id)).points == 0


async def test_a_process_without_the_gateway_tunes_the_collector_at_login(
    over_http: OverHttp,
) -> None:
    assert gc.get_threshold() == THRESHOLDS


async def test_an_interaction_before_login_gets_503_and_claims_nothing(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    """The web side starts before the REST login: what arrives then is refused unclaimed,
    so Discord's member can simply try again once the process is up."""
    world = FakeDiscord()
    guild = shop_guild(world)
    alice = guild.add_member("alice")
    key = SigningKey.generate()
    port = _free_port()
    front = build_storefront(http_settings(database_url, guild, key, port), clock=clock)
    payload = payloads.interaction_payload(
        world,
        interaction_id=world.new_id(),
        token="itoken-early",
        type=APPLICATION_COMMAND,
        user=alice.user,
        channel=guild.channel("shop-audit"),
        data={"id": "1", "name": "shop", "type": 1},
    )
    body = json.dumps(payload).encode()
    async with (
        serving(front),
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{port}/interactions", data=body, headers=_signed(key, body)
        ) as reply,
    ):
        assert reply.status == 503

    async def claims(conn: AsyncConnection) -> int:
        return int(
            (await conn.execute(select(func.count()).select_from(interaction_claims))).scalar_one()
        )

    assert await database.read(claims) == 0


async def test_a_closed_process_neither_routes_interactions_nor_delivers_effects(
    over_http: OverHttp,
) -> None:
    bot = over_http.process.front.bot
    assert bot.accepting_interactions() and bot.ready_to_act()
    await bot.close()
    assert not bot.accepting_interactions() and not bot.ready_to_act()
