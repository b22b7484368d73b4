"""/account acts: pay or cancel a pending order, open any recent order, get its receipt
again, see gifts received — each through the harness, with Discord's checks on."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.testing import FakeMember
from store.db.engine import Database
from store.orders import OrderState
from tests.bot.conftest import Shopfront
from tests.bot.two_gateways import two_gateway_front
from tests.store.helpers import snapshot
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


def _field(embed: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


def _components(result: Any) -> list[dict[str, Any]]:
    return [c for row in result.components for c in row["components"]]


def _custom_ids(result: Any) -> list[str]:
    return [c["custom_id"] for c in _components(result) if "custom_id" in c]


def _links(result: Any) -> list[str]:
    return [c["url"] for c in _components(result) if c.get("url")]


async def _checkout(shopfront: Shopfront, member: FakeMember, **options: Any) -> tuple[int, str]:
    """The member checks out their cart by card; returns the order id and its Pay link."""
    reply = await shopfront.harness.slash(member, "checkout", options=options)
    [url] = _links(reply)
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, member.id, limit=1)
    return order.id, url


async def _pending(shopfront: Shopfront, *, points: int = 0) -> tuple[int, str]:
    """Alice's pending card order for a year of Paid (`points` of it reserved)."""
    shop, alice = shopfront.bot.shop, shopfront.alice
    if points:
        await shop.grants.grant_points(shopfront.guild_id, shopfront.mod.id, alice.id, points, "x")
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-12m"})
    return await _checkout(shopfront, alice, use_points=bool(points))


async def _gateway(shopfront: Shopfront, session_id: str, action: str, **body: Any) -> None:
    """Press a button of the fake gateway's page over HTTP, then deliver what follows."""
    async with shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/{action}",
        headers={"Accept": "application/json"},
        json=body or None,
    ) as response:
        assert response.status == 200, await response.text()
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()


async def _paid(shopfront: Shopfront) -> tuple[int, str]:
    order_id, url = await _pending(shopfront)
    await _gateway(shopfront, url.rsplit("/", 1)[1], "pay")
    return order_id, url


async def _order(shopfront: Shopfront, order_id: int) -> Any:
    return await shopfront.bot.shop.orders.get(shopfront.guild_id, order_id)


async def test_account_offers_the_pending_orders_own_pay_link_and_a_cancel_button(
    shopfront: Shopfront,
) -> None:
    """The same gateway session as checkout gave, its expiry as a time, and Cancel."""
    order_id, url = await _pending(shopfront)
    alice = shopfront.alice
    account = await shopfront.harness.slash(alice, "account")
    order = await _order(shopfront, order_id)
    expires = int(order.checkout_expires_at.timestamp())
    pending = _field(account.embed, "Pending orders")
    assert pending.startswith(f"#{order_id} — $25.00 — pay by <t:{expires}:t> (<t:{expires}:R>)")
    assert _links(account) == [url]
    assert f"account:cancel:{alice.id}:{order_id}" in _custom_ids(account)
    assert f"account:order:{alice.id}" in _custom_ids(account)


def _rows(result: Any) -> list[list[str]]:
    """Each row of the reply: its components by custom_id (link buttons by their label)."""
    return [
        [c.get("custom_id") or c["label"] for c in row["components"]] for row in result.components
    ]


async def test_the_cart_row_sits_apart_from_the_pending_orders_buttons(
    shopfront: Shopfront,
) -> None:
    """More in the cart: Checkout and View cart get their own row, not Pay and Cancel's."""
    order_id, _ = await _pending(shopfront)
    alice = shopfront.alice
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-1m"})
    account = await shopfront.harness.slash(alice, "account")
    assert _rows(account) == [
        [f"Pay #{order_id}", f"account:cancel:{alice.id}:{order_id}"],
        [f"account:order:{alice.id}"],
        [f"cart:checkout:{alice.id}", "shop:cart"],
    ]


async def test_an_expired_link_is_not_offered(shopfront: Shopfront) -> None:
    """Past its expiry the Pay link is gone; Cancel stays, to get the items back now."""
    order_id, _ = await _pending(shopfront)
    shopfront.bot.shop.ctx.clock.advance(hours=3)  # type: ignore[attr-defined]
    account = await shopfront.harness.slash(shopfront.alice, "account")
    assert _links(account) == []
    assert "link expired" in _field(account.embed, "Pending orders")
    assert f"account:cancel:{shopfront.alice.id}:{order_id}" in _custom_ids(account)


async def test_cancel_kills_the_link_returns_the_lines_and_releases_the_points(
    shopfront: Shopfront,
) -> None:
    """Cancelled: the session is expired at the gateway, the cart is back, points are free."""
    order_id, url = await _pending(shopfront, points=100)
    shop, alice, guild = shopfront.bot.shop, shopfront.alice, shopfront.guild_id
    assert (await shop.accounts.account(guild, alice.id)).points_reserved == 100
    account = await shopfront.harness.slash(alice, "account")
    result = await shopfront.harness.press(alice, account, f"account:cancel:{alice.id}:{order_id}")
    assert result.ephemeral and result.embed["title"] == f"Order #{order_id} cancelled"
    assert "100 points it held are free again" in result.embed["description"]
    session = shopfront.bot.gateway.session(url.rsplit("/", 1)[1])  # type: ignore[attr-defined]
    assert session["status"] == "expired"
    assert (await _order(shopfront, order_id)).state is OrderState.CANCELLED
    assert [line.sku for line in (await shop.carts.view(guild, alice.id)).lines] == ["paid-12m"]
    account_now = await shop.accounts.account(guild, alice.id)
    assert (account_now.points, account_now.points_reserved) == (100, 0)


async def test_a_second_cancel_press_says_already_cancelled_and_changes_nothing(
    shopfront: Shopfront,
) -> None:
    """The same button pressed again: a clear answer; the cart is not doubled."""
    order_id, _ = await _pending(shopfront, points=100)
    alice = shopfront.alice
    account = await shopfront.harness.slash(alice, "account")
    cancel = f"account:cancel:{alice.id}:{order_id}"
    await shopfront.harness.press(alice, account, cancel)
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    before = await snapshot(shopfront.bot.shop.ctx.db)
    again = await shopfront.harness.press(alice, account, cancel)
    assert f"Order #{order_id} is already cancelled" in again.embed["description"]
    assert await snapshot(shopfront.bot.shop.ctx.db) == before


async def test_a_payment_made_before_the_cancel_wins(shopfront: Shopfront) -> None:
    """Paid at the gateway, its webhook lost: Cancel finds it paid and fulfils it."""
    order_id, url = await _pending(shopfront)
    alice, shop = shopfront.alice, shopfront.bot.shop
    account = await shopfront.harness.slash(alice, "account")
    async with shopfront.http.post(
        f"{shopfront.url}/fake-gateway/faults", json={"drop": True}
    ) as response:
        assert response.status == 200
    await _gateway(shopfront, url.rsplit("/", 1)[1], "pay")
    assert (await _order(shopfront, order_id)).state is OrderState.PENDING  # webhook dropped
    result = await shopfront.harness.press(alice, account, f"account:cancel:{alice.id}:{order_id}")
    assert result.embed["title"] == f"Order #{order_id} is paid"
    assert (await _order(shopfront, order_id)).state is OrderState.FULFILLED
    assert (await shop.carts.view(shopfront.guild_id, alice.id)).is_empty
    await shopfront.effects_delivered()
    assert shopfront.paid_role in shopfront.world.member(alice.id).roles


async def test_a_payment_after_the_cancel_is_fulfilled_once(shopfront: Shopfront) -> None:
    """A late paid webhook (twice) fulfils once; the returned lines leave the cart."""
    order_id, url = await _pending(shopfront)
    alice, shop, guild = shopfront.alice, shopfront.bot.shop, shopfront.guild_id
    account = await shopfront.harness.slash(alice, "account")
    await shopfront.harness.press(alice, account, f"account:cancel:{alice.id}:{order_id}")
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    assert not (await shop.carts.view(guild, alice.id)).is_empty
    for event_id in ("evt_late_1", "evt_late_2"):
        await _late_payment(shopfront, order_id, url.rsplit("/", 1)[1], event_id)
    await shopfront.effects_delivered()
    assert (await _order(shopfront, order_id)).state is OrderState.FULFILLED
    assert (await shop.carts.view(guild, alice.id)).is_empty
    [paid] = (await shop.accounts.account(guild, alice.id)).memberships
    assert paid.tier == "paid"
    receipts = [e for e in shopfront.dm_embeds(alice) if e["title"].startswith("🧾")]
    assert len(receipts) == 1


async def _late_payment(shopfront: Shopfront, order_id: int, session_id: str, event: str) -> None:
    """A signed payment webhook for a session the gateway has already closed."""
    gateway = shopfront.bot.gateway
    payload = {
        "id": event,
        "type": "payment_succeeded",
        "created": int(time.time()),
        "data": {
            "session_id": session_id,
            "order_id": str(order_id),
            "amount": 2500,
            "currency": "USD",
            "subject_id": None,
            "instance_id": await shopfront.bot.flow.deployment.instance_id(),
        },
    }
    body, headers = gateway.render_webhook(payload)  # type: ignore[attr-defined]
    async with shopfront.http.post(
        f"{shopfront.url}/webhooks/fake", data=body, headers=headers
    ) as response:
        assert response.status == 200, await response.text()


async def test_an_unreachable_gateway_leaves_the_order_as_it_was(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    """The gateway's outage (Stripe's API answering 500): "try again", nothing changes."""
    async with two_gateway_front(database_url, clock) as (front, stub):
        alice = front.alice
        await front.harness.slash(alice, "cart", "add", options={"item": "paid-12m"})
        asked = await front.harness.slash(alice, "checkout")
        await front.harness.press(alice, asked, f"checkout:via:{alice.id}:stripe")
        [order] = await front.bot.shop.orders.recent(front.guild_id, alice.id, limit=1)
        account = await front.harness.slash(alice, "account")
        stub.failures.extend([500] * 5)
        before = await snapshot(front.bot.shop.ctx.db)
        result = await front.harness.press(alice, account, f"account:cancel:{alice.id}:{order.id}")
        assert "try again" in result.embed["description"]
        assert "Nothing changed" in result.embed["description"]
        assert await snapshot(front.bot.shop.ctx.db) == before
        assert (await _order(front, order.id)).state is OrderState.PENDING


def _row(component: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": 1, "components": [component]}]


async def test_forged_cancel_ids_cannot_touch_another_members_order(shopfront: Shopfront) -> None:
    """Bob's order, by Bob's id or Alice's own: a clear refusal, nothing changes."""
    shop, alice, bob = shopfront.bot.shop, shopfront.alice, shopfront.bob
    await shopfront.harness.slash(bob, "cart", "add", options={"item": "paid-1m"})
    order_id, _ = await _checkout(shopfront, bob)
    before = await snapshot(shop.ctx.db)
    for custom_id, says in (
        (f"account:cancel:{bob.id}:{order_id}", "another member's account"),
        (f"account:cancel:{alice.id}:{order_id}", "No such order"),
        (f"account:cancel:{alice.id}:bogus", "No such order"),
    ):
        message = shopfront.world.post_message(
            shopfront.world.guild.channel("general"),
            components=_row({"type": 2, "style": 4, "label": "x", "custom_id": custom_id}),
        )
        result = await shopfront.harness.press(alice, message, custom_id)
        assert says in result.embed["description"] and result.ephemeral
    assert await snapshot(shop.ctx.db) == before


async def test_forged_order_and_receipt_ids_show_nothing_of_another_member(
    shopfront: Shopfront,
) -> None:
    """Opening or asking the receipt of Bob's order: refused, no DM, no detail."""
    alice, bob = shopfront.alice, shopfront.bob
    await shopfront.harness.slash(bob, "cart", "add", options={"item": "paid-1m"})
    order_id, url = await _checkout(shopfront, bob)
    await _gateway(shopfront, url.rsplit("/", 1)[1], "pay")
    picker = {
        "type": 3,
        "custom_id": f"account:order:{alice.id}",
        "options": [{"label": "x", "value": str(order_id)}],
    }
    general = shopfront.world.guild.channel("general")
    message = shopfront.world.post_message(general, components=_row(picker))
    opened = await shopfront.harness.select(
        alice, message, f"account:order:{alice.id}", [str(order_id)]
    )
    assert "No such order" in opened.embed["description"]
    receipt = f"account:receipt:{alice.id}:{order_id}"
    message = shopfront.world.post_message(
        general, components=_row({"type": 2, "style": 2, "label": "x", "custom_id": receipt})
    )
    result = await shopfront.harness.press(alice, message, receipt)
    assert "No such order" in result.embed["description"]
    assert shopfront.dm_embeds(alice) == []


async def test_opening_an_order_shows_its_lines_state_and_money(shopfront: Shopfront) -> None:
    """Paid, then partly refunded: the select opens it with what was paid and refunded."""
    order_id, url = await _paid(shopfront)
    await _gateway(shopfront, url.rsplit("/", 1)[1], "refund", amount=500)
    alice = shopfront.alice
    account = await shopfront.harness.slash(alice, "account")
    opened = await shopfront.harness.select(
        alice, account, f"account:order:{alice.id}", [str(order_id)]
    )
    assert opened.ephemeral and opened.embed["title"] == f"Order #{order_id}"
    text = opened.embed["description"]
    assert "**State:** partially refunded" in text
    assert "**Paid:** $25.00 on <t:" in text and "**Refunded:** $5.00" in text
    assert "**Gateway:** Test payment (no money)" in text
    assert _field(opened.embed, "Paid account, 12 months × 1") == "$25.00"
    assert _custom_ids(opened) == [f"account:receipt:{alice.id}:{order_id}"]


async def test_a_long_order_opens_in_pages(shopfront: Shopfront) -> None:
    """25 gift lines with the longest notes: every page fits Discord, ◀ ▶ turn them."""
    shop, alice, bob, guild = shopfront.bot.shop, shopfront.alice, shopfront.bob, shopfront.guild_id
    note_max = shop.ctx.config.gift_note_max
    for index in range(shop.ctx.config.cart_line_limit):
        note = f"{index:02d} " + "ẅ" * (note_max - 3)
        await shop.carts.add(guild, alice.id, "points-100", recipient_id=bob.id, note=note)
    order_id, _ = await _checkout(shopfront, alice)
    account = await shopfront.harness.slash(alice, "account")
    first = await shopfront.harness.select(
        alice, account, f"account:order:{alice.id}", [str(order_id)]
    )
    footer = first.embed["footer"]["text"]
    assert footer.startswith("Page 1 of ")
    pages = int(footer.rsplit(" ", 1)[1])
    seen = [f["value"] for f in first.embed["fields"] if "Note:" in f["value"]]
    result = first
    for page in range(1, pages):
        result = await shopfront.harness.press(
            alice, result, f"account:lines:{alice.id}:{order_id}:{page}"
        )
        assert result.embed["footer"]["text"] == f"Page {page + 1} of {pages}"
        seen += [f["value"] for f in result.embed["fields"] if "Note:" in f["value"]]
    assert len(seen) == 25 and len(set(seen)) == 25


async def test_receipt_again_comes_by_dm(shopfront: Shopfront) -> None:
    """ "Send me the receipt again": a second receipt DM, and the reply says where it went."""
    order_id, _ = await _paid(shopfront)
    alice = shopfront.alice
    account = await shopfront.harness.slash(alice, "account")
    opened = await shopfront.harness.select(
        alice, account, f"account:order:{alice.id}", [str(order_id)]
    )
    result = await shopfront.harness.press(alice, opened, f"account:receipt:{alice.id}:{order_id}")
    assert result.embed["title"] == "Receipt sent"
    receipts = [e for e in shopfront.dm_embeds(alice) if e["title"].startswith("🧾")]
    assert len(receipts) == 2 and receipts[0] == receipts[1]
    assert _field(receipts[1], "Paid") == "$25.00"


async def test_receipt_with_closed_dms_is_shown_privately(shopfront: Shopfront) -> None:
    """DMs closed (Discord 50007): the receipt in the private reply, saying why."""
    order_id, _ = await _paid(shopfront)
    alice = shopfront.alice
    alice.user.dms_open = False
    account = await shopfront.harness.slash(alice, "account")
    opened = await shopfront.harness.select(
        alice, account, f"account:order:{alice.id}", [str(order_id)]
    )
    result = await shopfront.harness.press(alice, opened, f"account:receipt:{alice.id}:{order_id}")
    assert result.ephemeral
    assert result.embed["title"] == f"🧾 Receipt for order #{order_id}"
    assert "direct messages from this server are closed" in _field(result.embed, "Not sent by DM")
    assert _field(result.embed, "Paid") == "$25.00"


async def test_a_pending_order_has_no_receipt_button(shopfront: Shopfront) -> None:
    """Unpaid: the order opens with what is due, and nothing to resend."""
    order_id, _ = await _pending(shopfront)
    alice = shopfront.alice
    account = await shopfront.harness.slash(alice, "account")
    opened = await shopfront.harness.select(
        alice, account, f"account:order:{alice.id}", [str(order_id)]
    )
    assert "**To pay:** $25.00" in opened.embed["description"]
    assert not any(c.startswith("account:receipt") for c in _custom_ids(opened))


async def test_gifts_received_name_the_giver_or_say_anonymous(shopfront: Shopfront) -> None:
    """Bob sees Alice's signed gift from her; Carol's anonymous one reveals no one."""
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    carol = shopfront.world.guild.add_member("carol")
    await h.slash(alice, "cart", "add", options={"item": "points-100", "for": bob})
    anonymous = {"item": "paid-1m", "for": carol, "anonymous": True}
    await h.slash(alice, "cart", "add", options=anonymous)
    _, url = await _checkout(shopfront, alice)
    await _gateway(shopfront, url.rsplit("/", 1)[1], "pay")
    bobs = await h.slash(bob, "account")
    assert f"— from <@{alice.id}> — gift G-" in _field(bobs.embed, "Gifts received")
    carols = await h.slash(carol, "account")
    gifts = _field(carols.embed, "Gifts received")
    assert "**Paid account, 1 month**" in gifts and "— anonymous — gift G-" in gifts
    seen = json.dumps([[m.content, m.embeds, m.components] for m in carols.messages])
    assert str(alice.id) not in seen and "alice" not in seen
