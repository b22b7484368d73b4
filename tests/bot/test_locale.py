"""Money in the shop's configured locale and currency, times as Discord timestamps.

Each test runs for de_DE/EUR, ja_JP/JPY and en_US/USD through the harness: the
shop's [store] settings are overridden via the `shopfront` fixture's parameter.
The catalog's prices are minor units of the configured currency, so "paid-1m" (300)
is 3,00 € in euros and 300 yen in yen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.render.notices import receipt_embed, refund_embed, reminder_embed
from payments.fake import FakeGateway, FaultPlan
from store.effects import ExpiryReminder, Receipt, RefundNotice, effect_from_row
from tests.bot.conftest import Shopfront
from tests.support import FakeClock

# What babel (CLDR) makes of 300 minor units in each shop; ja_JP writes the yen sign
# full width. "points-100" costs 100 minor units.
SHOPS = [
    pytest.param({"locale": "de_DE", "currency": "EUR"}, "3,00\xa0€", "6,00\xa0€", id="de_DE-EUR"),
    pytest.param({"locale": "ja_JP", "currency": "JPY"}, "￥300", "￥600", id="ja_JP-JPY"),
    pytest.param({"locale": "en_US", "currency": "USD"}, "$3.00", "$6.00", id="en_US-USD"),
]
LOCALES = pytest.mark.parametrize(("shopfront", "price", "double"), SHOPS, indirect=["shopfront"])
ASYNC = pytest.mark.asyncio


def _field(embed: Any, name: str) -> str:
    return str(next(f["value"] for f in embed["fields"] if f["name"] == name))


def _pay_url(result: Any) -> str:
    return next(
        str(c["url"]) for row in result.components for c in row["components"] if c.get("url")
    )


async def _paid_order(shopfront: Shopfront) -> Any:
    """Alice adds paid-1m, checks out and pays at the fake gateway; returns the checkout."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    checkout = await h.slash(alice, "checkout")
    session_id = _pay_url(checkout).rsplit("/", 1)[1]
    paid = await shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=True
    )
    assert paid.status == 200
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()
    return checkout


@ASYNC
@LOCALES
async def test_shop_shows_prices_in_the_shops_locale(
    shopfront: Shopfront, price: str, double: str
) -> None:
    """/shop lists each price, in the embed and the picker, in the shop's locale."""
    result = await shopfront.harness.slash(shopfront.alice, "shop")
    assert f"**Paid account, 1 month** — {price}" in result.embed["description"]
    options = result.components[1]["components"][0]["options"]
    assert next(o for o in options if o["value"] == "paid-1m")["description"] == price


@ASYNC
@LOCALES
async def test_cart_view_shows_lines_total_and_summary_in_the_shops_locale(
    shopfront: Shopfront, price: str, double: str
) -> None:
    """/cart view: each line's price, the total and the cart summary in the shop's locale."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m", "quantity": 2})
    result = await h.slash(alice, "cart", "view")
    assert f"· {double}" in _field(result.embed, "1. Paid account, 1 month × 2")
    assert _field(result.embed, "Total") == double
    assert _field(result.embed, "🛒 Your cart").startswith(f"2 items · {double} — ")


@ASYNC
@LOCALES
async def test_checkout_reply_shows_the_amount_and_the_links_time_and_countdown(
    shopfront: Shopfront, clock: FakeClock, price: str, double: str
) -> None:
    """The checkout reply: the amount in the locale; an hour's link as time + relative."""
    h, alice = shopfront.harness, shopfront.alice
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    result = await h.slash(alice, "checkout")
    assert _field(result.embed, "To pay") == price
    assert _field(result.embed, "Paid account, 1 month × 1") == price
    expires = int((clock.now + timedelta(minutes=60)).timestamp())
    assert f"expires at <t:{expires}:t> (<t:{expires}:R>)" in result.embed["description"]
    assert ":D>" not in result.embed["description"]


@ASYNC
@LOCALES
async def test_receipt_dm_shows_what_was_paid_in_the_shops_locale(
    shopfront: Shopfront, price: str, double: str
) -> None:
    """The receipt DM, formatted by the bot from the amount the store sent."""
    await _paid_order(shopfront)
    [receipt] = [e for e in shopfront.dm_embeds(shopfront.alice) if "Receipt" in e["title"]]
    assert _field(receipt, "Paid") == price


@ASYNC
@LOCALES
async def test_account_shows_orders_in_the_locale_and_membership_end_with_time(
    shopfront: Shopfront, price: str, double: str
) -> None:
    """/account: order amounts in the shop's locale; a membership's end as date and time."""
    await _paid_order(shopfront)
    result = await shopfront.harness.slash(shopfront.alice, "account")
    assert _field(result.embed, "Recent orders").endswith(f"— fulfilled — {price}")
    account = await shopfront.bot.shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    [paid] = account.memberships
    assert paid.expires_at is not None
    ends = int(paid.expires_at.timestamp())
    assert f"**Paid** — ends <t:{ends}:f>" in _field(result.embed, "Memberships")
    assert f"Paid now ends <t:{ends}:f>" in _field(result.embed, "Recent changes")


GERMAN = pytest.mark.parametrize(
    "shopfront", [{"locale": "de_DE", "currency": "EUR"}], indirect=True, ids=["de_DE-EUR"]
)


@ASYNC
@GERMAN
async def test_review_alert_and_review_list_state_amounts_in_the_shops_locale(
    shopfront: Shopfront,
) -> None:
    """A payment one cent short: the store's review reason uses the shop's locale."""
    shop, guild, alice = shopfront.bot.shop, shopfront.guild_id, shopfront.alice
    await shop.carts.add(guild, alice.id, "paid-12m")
    outcome = await shopfront.bot.flow.checkout(guild, alice.id)
    assert outcome.session is not None
    gateway = shopfront.bot.gateway
    assert isinstance(gateway, FakeGateway)
    gateway.faults = FaultPlan(amount_delta=-1)
    await gateway.perform(outcome.session.session_id, "pay")
    await gateway.drain()
    await shopfront.effects_delivered()
    reason = "Paid 24,99\xa0€, but the order was for 25,00\xa0€."
    assert any(post.get("description") == reason for post in shopfront.audit_posts())
    result = await shopfront.harness.slash(shopfront.mod, "shopadmin", "review")
    [field] = [f for f in result.embed["fields"] if f["name"].startswith("#")]
    assert field["name"] == f"#{outcome.order.id} held — 25,00\xa0€"
    assert reason in field["value"]


@ASYNC
@GERMAN
async def test_partial_refund_notice_states_the_amount_in_the_shops_locale(
    shopfront: Shopfront,
) -> None:
    """A partial refund's DM: the bot formats the refunded amount the store sent."""
    await _paid_order(shopfront)
    order = (await shopfront.bot.shop.orders.recent(shopfront.guild_id, shopfront.alice.id))[0]
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "refund",
        options={"order_id": order.id, "amount": 100, "reason": "goodwill"},
    )
    assert result.embed["title"] == "Done", result.embed
    gateway = shopfront.bot.gateway
    assert isinstance(gateway, FakeGateway)
    await gateway.drain()
    await shopfront.effects_delivered()
    titles = [e["title"] for e in shopfront.dm_embeds(shopfront.alice)]
    assert f"Order #{order.id}: 1,00\xa0€ refunded" in titles


def test_receipt_written_before_amounts_travelled_shows_its_total_as_written() -> None:
    """An outbox row from before the upgrade (a preformatted total) is shown as is."""
    old = {"order_id": 3, "lines": ["Paid account, 1 month"], "total": "$3.00", "points_used": 0}
    embed = receipt_embed(cast(Receipt, effect_from_row("receipt", 1, old)), locale="de_DE")
    assert _field(embed.to_dict(), "Paid") == "$3.00"


def test_refund_notice_written_before_amounts_travelled_shows_its_text_as_written() -> None:
    """An old partial-refund row carries its amount in the text: shown as is, not doubled."""
    old = {"order_id": 3, "description": "$1.00 refunded"}
    embed = refund_embed(
        cast(RefundNotice, effect_from_row("refund_notice", 1, old)), locale="de_DE"
    )
    assert embed.title == "Order #3: $1.00 refunded"


def test_reminder_round_trips_its_moment_through_the_outbox_and_shows_date_and_time() -> None:
    """The store hands a datetime; stored as ISO, read back, shown as date, time, countdown."""
    ends = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
    payload = ExpiryReminder(1, "paid", ends, 3).payload()
    assert payload["expires_at"] == ends.isoformat()
    effect = cast(ExpiryReminder, effect_from_row("expiry_reminder", 1, payload))
    assert effect.expires_at == ends
    stamp = int(ends.timestamp())
    reminder = reminder_embed(effect, locale="en_US")
    assert f"ends on <t:{stamp}:f> (<t:{stamp}:R>)" in str(reminder.description)


def test_reminder_written_as_a_naive_iso_date_before_the_upgrade_reads_as_utc() -> None:
    """Old rows wrote expires_at as text: a naive one is UTC, as the store wrote it."""
    old = {"tier": "paid", "expires_at": "2026-03-01T18:30:00", "days": 3}
    effect = cast(ExpiryReminder, effect_from_row("expiry_reminder", 1, old))
    assert effect.expires_at == datetime(2026, 3, 1, 18, 30, tzinfo=UTC)


@ASYNC
@GERMAN
async def test_account_groups_points_as_the_shops_locale_writes_numbers(
    shopfront: Shopfront,
) -> None:
    """/account in a de_DE shop writes 12.345 points, as amounts beside it are written."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.grants.grant_points(guild, shopfront.mod.id, shopfront.alice.id, 12345, "seed")
    result = await shopfront.harness.slash(shopfront.alice, "account")
    assert _field(result.embed, "Points") == "12.345"


@ASYNC
@GERMAN
async def test_points_changes_buttons_and_points_checkouts_group_as_the_locale_does(
    shopfront: Shopfront,
) -> None:
    """de_DE: the account's history line, the points button and the paid-with-points
    reply all write 12.345, never 12,345."""
    shop, guild, alice = shopfront.bot.shop, shopfront.guild_id, shopfront.alice
    await shop.grants.grant_points(guild, shopfront.mod.id, alice.id, 12345, "seed")
    account = await shopfront.harness.slash(alice, "account")
    assert "+12.345 points" in _field(account.embed, "Recent changes")
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-1m"})
    cart = await shopfront.harness.slash(alice, "cart", "view")
    labels = [c.get("label", "") for row in cart.components for c in row["components"]]
    assert "Use my 12.345 points" in labels
    await shopfront.harness.slash(alice, "cart", "clear")
    await shopfront.harness.slash(alice, "cart", "add", options={"item": "paid-12m", "quantity": 4})
    paid = await shopfront.harness.slash(alice, "checkout", options={"use_points": True})
    assert paid.embed["description"].startswith("1.000 points spent")
