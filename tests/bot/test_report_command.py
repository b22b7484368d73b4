"""/shopadmin report: moderators get the figures, the orders as CSV and a chart."""

from __future__ import annotations

import csv
import io
import struct
from datetime import timedelta
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.testing import FakeDiscord
from bot.testing.records import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE
from store.db.engine import Database
from store.orders import Order
from tests.bot.conftest import Shopfront
from tests.bot.http_support import shop_guild, web_process
from tests.store.helpers import gateway_event
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Uploads = dict[str, bytes]


@pytest.fixture
def uploads(shopfront: Shopfront) -> Uploads:
    """The files the bot uploaded, by name, as the fake Discord received them."""
    return shopfront.harness.rest.uploads


async def paid(front: Shopfront, member_id: int, sku: str, currency: str = "USD") -> Order:
    """The member buys `sku` by card: checked out, a session opened, the payment in."""
    shop = front.bot.shop
    await shop.carts.add(front.guild_id, member_id, sku)
    order = (await shop.orders.checkout(front.guild_id, member_id)).order
    order = await shop.orders.attach_session(
        order.id,
        gateway="fake",
        session_id=f"cs_{order.id}",
        url="http://pay.invalid",
        expires_at=shop.ctx.now() + timedelta(hours=1),
    )
    event = gateway_event(order, "payment_succeeded", f"pay-{order.id}", currency=currency)
    await shop.fulfilment.apply(event)
    return order


async def refunded(front: Shopfront, order: Order, amount: int, currency: str = "USD") -> None:
    event = gateway_event(
        order, "refund_succeeded", f"re-{order.id}", amount, subject_id="re", currency=currency
    )
    await front.bot.shop.fulfilment.apply(event)


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


async def test_a_moderator_gets_the_figures_the_orders_and_a_chart(
    shopfront: Shopfront, uploads: Uploads, clock: FakeClock
) -> None:
    alice_order = await paid(shopfront, shopfront.alice.id, "paid-1m")
    clock.advance(days=1)
    bob_order = await paid(shopfront, shopfront.bob.id, "points-100")
    await refunded(shopfront, bob_order, 100)
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "report", options={"period": "7d"}
    )
    assert result.callback_type == DEFERRED_CHANNEL_MESSAGE and result.ephemeral
    embed = result.embed
    assert embed["title"] == "Sales report: last 7 days"
    assert {
        name: value
        for name, value in fields(embed).items()
        if name in {"Revenue", "Refunds", "Net", "Paid orders"}
    } == {"Revenue": "$13.00", "Refunds": "$1.00", "Net": "$12.00", "Paid orders": "2"}
    assert embed["image"]["url"] == "attachment://sales.png"
    assert result.final is not None
    assert [a["filename"] for a in result.final.attachments] == ["report.csv", "sales.png"]
    rows = list(csv.DictReader(io.StringIO(uploads["report.csv"].decode())))
    assert [(r["order_id"], r["buyer_id"], r["cash"], r["refunded"]) for r in rows] == [
        (str(alice_order.id), str(shopfront.alice.id), "3.00", "0.00"),
        (str(bob_order.id), str(shopfront.bob.id), "10.00", "1.00"),
    ]
    width, height = png_size(uploads["sales.png"])
    assert 400 <= width <= 2000 and 200 <= height <= 2000


async def test_a_member_is_refused_before_anything_is_computed(
    shopfront: Shopfront, uploads: Uploads
) -> None:
    await paid(shopfront, shopfront.alice.id, "paid-1m")
    result = await shopfront.harness.slash(shopfront.alice, "shopadmin", "report")
    assert result.embed["description"] == "Only the shop's moderators can do that."
    # Answered at once, without the deferral a report starts with, and nothing uploaded.
    assert result.callback_type == CHANNEL_MESSAGE
    assert uploads == {}
    assert result.final is not None and result.final.attachments == []


async def test_an_empty_period_says_so_and_still_answers(
    shopfront: Shopfront, uploads: Uploads
) -> None:
    result = await shopfront.harness.slash(shopfront.mod, "shopadmin", "report")
    embed = result.embed
    assert embed["title"] == "Sales report: last 30 days"
    assert embed["description"].endswith("\nNo sales, refunds or points in this period.")
    assert fields(embed)["Net"] == "$0.00" and fields(embed)["Top items"] == "none"
    assert uploads["report.csv"].decode().splitlines() == [
        "order_id,paid_at,buyer_id,state,currency,subtotal,discount,points_value,cash,refunded"
    ]
    assert png_size(uploads["sales.png"])[0] >= 400


@pytest.mark.parametrize("shopfront", [{"currency": "EUR", "locale": "de_DE"}], indirect=True)
async def test_the_figures_are_in_the_shops_currency_and_locale(
    shopfront: Shopfront, uploads: Uploads
) -> None:
    order = await paid(shopfront, shopfront.alice.id, "points-100", currency="EUR")
    await refunded(shopfront, order, 250, currency="EUR")
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "report", options={"period": "this_month"}
    )
    shown = fields(result.embed)
    assert (shown["Revenue"], shown["Refunds"], shown["Net"]) == (
        "10,00\xa0€",
        "2,50\xa0€",
        "7,50\xa0€",
    )
    assert result.embed["description"] == "01.01.2026 – 31.01.2026 (UTC)"


async def test_over_http_the_report_follows_its_deferral_with_the_files(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    """The first answer goes in Discord's HTTP request, which carries no files."""
    world = FakeDiscord()
    guild = shop_guild(world)
    mod = guild.add_member("mod", roles=[guild.role("Shop moderators").id])
    async with web_process(database_url, world, guild, clock, SigningKey.generate()) as process:
        sent = process.harness.rest.uploads
        result = await process.harness.slash(mod, "shopadmin", "report", period="90d")
    assert result.http_status == 200 and result.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert result.embed["title"] == "Sales report: last 90 days"
    assert sorted(sent) == ["report.csv", "sales.png"]
