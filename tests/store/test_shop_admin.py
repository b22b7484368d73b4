"""Moderators change their shop's catalog and settings, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from store.config import ItemConfig
from store.db.engine import Database, create_engine
from store.errors import InvalidInput
from store.shop import Shop
from store.shop_admin import options_text, parse_options, parse_price
from store.stock import remaining
from tests.store.helpers import checkout_paid_by_card, snapshot
from tests.support import ALICE, BOB, GUILD, PAID_ROLE, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio

STICKER: dict[str, Any] = {
    "sku": "sticker",
    "name": "Sticker pack",
    "price": 199,
    "kind": "points",
    "points": 20,
}


async def test_an_added_item_is_sold_at_once(shop: Shop) -> None:
    """The new item is in the shop's catalog and a member can add it."""
    change = await shop.admin.add_item(GUILD, STICKER)
    assert change.before is None and change.after == STICKER
    assert (await shop.shops.get(GUILD)).catalog.require("sticker").price.amount == 199
    await shop.carts.add(GUILD, ALICE, "sticker")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"points": -3}, "^points must be a positive whole number$"),
        ({"points": 1, "colour": "red"}, "^unknown option"),
        ({"points": 1, "stock": -1}, "^stock: "),
        ({"sku": "Bad SKU", "points": 1}, "^SKU: use 1 to 40 lower-case"),
        ({"kind": "rename", "points": 1}, "^kind: unknown kind 'rename'"),
        ({"sku": "paid-1m", "points": 1}, "already has an item with the SKU 'paid-1m'"),
    ],
)
async def test_a_bad_item_is_refused_in_plain_words(
    shop: Shop, fields: dict[str, Any], message: str
) -> None:
    """Refusals name the option, not a path into a file; nothing is stored."""
    before = await snapshot(shop.ctx.db)
    item = {key: value for key, value in STICKER.items() if key != "points"}
    with pytest.raises(InvalidInput, match=message):
        await shop.admin.add_item(GUILD, {**item, **fields})
    assert await snapshot(shop.ctx.db) == before


async def test_a_membership_item_names_an_unknown_tier(shop: Shop) -> None:
    """The kind checks its options against the shop's own tiers."""
    with pytest.raises(InvalidInput, match=r"^tier 'gold' is not a configured membership tier"):
        await shop.admin.add_item(
            GUILD,
            {"sku": "gold", "name": "Gold", "price": 100, "kind": "membership", "tier": "gold"},
        )


async def test_a_retired_sku_is_never_reused(shop: Shop) -> None:
    """Retired, the SKU stays taken, and the refusal says why."""
    await shop.admin.retire_item(GUILD, "points-100")
    with pytest.raises(InvalidInput, match="retired SKU is never reused"):
        await shop.admin.add_item(GUILD, {**STICKER, "sku": "points-100"})


async def test_retiring_takes_the_item_off_sale(shop: Shop) -> None:
    """Gone from the catalog, kept in the retired list, told before and after."""
    change = await shop.admin.retire_item(GUILD, "points-100")
    assert change.after is None and change.before is not None
    assert change.before["sku"] == "points-100"
    current = await shop.shops.get(GUILD)
    assert current.catalog.get("points-100") is None
    assert [item.sku for item in current.profile.retired] == ["points-100"]


async def test_an_edit_keeps_what_it_does_not_name(shop: Shop) -> None:
    """A new price; name and options stay."""
    change = await shop.admin.edit_item(GUILD, "paid-1m", {"price": 450})
    assert (change.before or {})["price"] == 300 and (change.after or {})["price"] == 450
    item = (await shop.shops.get(GUILD)).catalog.require("paid-1m")
    assert (item.price.amount, item.name, item.spec["months"]) == (450, "Paid, 1 month", 1)


async def test_an_option_given_as_none_is_removed(shop: Shop) -> None:
    """max_quantity back to its default."""
    await shop.admin.edit_item(GUILD, "paid-1m", {"max_quantity": None})
    assert (await shop.shops.get(GUILD)).catalog.require("paid-1m").max_quantity == 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sku": "other"}, "SKU can't change"),
        ({"kind": "points"}, "kind can't change"),
    ],
)
async def test_an_edit_can_not_change_sku_or_kind(
    shop: Shop, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await shop.admin.edit_item(GUILD, "paid-1m", fields)


async def test_a_retired_item_can_not_be_edited(shop: Shop) -> None:
    await shop.admin.retire_item(GUILD, "points-100")
    with pytest.raises(InvalidInput, match="was retired"):
        await shop.admin.edit_item(GUILD, "points-100", {"price": 1})


async def test_an_order_keeps_the_price_it_was_placed_at(shop: Shop) -> None:
    """Repricing and retiring never touch an existing order."""
    await shop.carts.add(GUILD, ALICE, "points-100")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.admin.edit_item(GUILD, "points-100", {"price": 9999, "name": "Renamed"})
    await shop.admin.retire_item(GUILD, "points-100")
    again = await shop.orders.get(GUILD, order.id)
    assert again.subtotal == order.subtotal
    assert [(line.name, line.unit_price) for line in again.lines] == [
        (line.name, line.unit_price) for line in order.lines
    ]


async def test_more_stock_moves_the_units_left_by_the_difference(shop: Shop) -> None:
    """Stock 3, two sold, raised to 5: three left."""
    await shop.admin.add_item(GUILD, {**STICKER, "stock": 3})
    await shop.carts.add(GUILD, ALICE, "sticker", quantity=2)
    await checkout_paid_by_card(shop, ALICE)
    await shop.admin.edit_item(GUILD, "sticker", {"stock": 5})
    catalog = (await shop.shops.get(GUILD)).catalog
    left = await shop.ctx.db.read(lambda c: remaining(c, GUILD, [catalog.require("sticker")]))
    assert left == {"sticker": 3}


async def test_stock_below_the_units_sold_is_refused_and_nothing_changes(shop: Shop) -> None:
    """Stock 3, two sold: a stock of 1 would unsell one."""
    await shop.admin.add_item(GUILD, {**STICKER, "stock": 3})
    await shop.carts.add(GUILD, ALICE, "sticker", quantity=2)
    await checkout_paid_by_card(shop, ALICE)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="2 unit\\(s\\) are already sold"):
        await shop.admin.edit_item(GUILD, "sticker", {"stock": 1})
    assert await snapshot(shop.ctx.db) == before
    assert (await shop.shops.get(GUILD)).catalog.require("sticker").stock == 3


async def test_a_new_currency_flags_lines_added_in_the_old_one(shop: Shop) -> None:
    """$3.00 in the cart, the shop now in euros: checkout names the change before any
    charge in another currency."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.admin.setup(GUILD, currency="EUR")
    [line] = (await shop.carts.view(GUILD, ALICE)).lines
    assert line.was_price is not None and line.was_price.currency == "USD"
    with pytest.raises(InvalidInput, match=r"was \$3.00, now €3.00"):
        await shop.orders.checkout(GUILD, ALICE)
    order = (await shop.orders.checkout(GUILD, ALICE)).order
    assert order.cash_due.currency == "EUR"


async def test_lines_back_from_a_lapsed_order_keep_the_price_they_were_ordered_at(
    shop: Shop,
) -> None:
    """Ordered at $3.00, repriced, the order expires: the line comes back flagged."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.admin.edit_item(GUILD, "paid-1m", {"price": 500})
    await shop.orders.cancel(GUILD, ALICE, order.id)
    [line] = (await shop.carts.view(GUILD, ALICE)).lines
    assert line.was_price is not None and line.was_price.amount == 300
    with pytest.raises(InvalidInput, match=r"was \$3.00, now \$5.00"):
        await shop.orders.checkout(GUILD, ALICE)


async def test_adding_more_keeps_a_repriced_line_flagged(shop: Shop) -> None:
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.admin.edit_item(GUILD, "paid-1m", {"price": 500})
    [line] = (await shop.carts.add(GUILD, ALICE, "paid-1m")).lines
    assert line.quantity == 2 and line.was_price is not None


async def test_stock_set_on_an_item_never_sold_starts_full(shop: Shop) -> None:
    await shop.admin.edit_item(GUILD, "points-100", {"stock": 4})
    await shop.carts.add(GUILD, BOB, "points-100", quantity=4)
    with pytest.raises(InvalidInput, match="Only 4"):
        await shop.carts.add(GUILD, ALICE, "points-100", quantity=5)


async def test_setup_changes_currency_and_keeps_minor_units(shop: Shop) -> None:
    """EUR in de_DE; a price of 300 minor units stays 300 (now 3,00 €)."""
    change = await shop.admin.setup(GUILD, currency="eur", locale="de_DE")
    assert change.before == {"currency": "USD", "locale": "en_US"}
    assert change.after == {"currency": "EUR", "locale": "de_DE"} and change.currency_changed
    price = (await shop.shops.get(GUILD)).catalog.require("paid-1m").price
    assert price.format("de_DE") == "3,00\xa0€"


async def test_setup_adds_and_removes_moderator_roles(shop: Shop) -> None:
    await shop.admin.setup(GUILD, add_moderator_role=42)
    assert 42 in (await shop.shops.get(GUILD)).profile.moderator_role_ids
    with pytest.raises(InvalidInput, match="already a moderator role"):
        await shop.admin.setup(GUILD, add_moderator_role=42)
    await shop.admin.setup(GUILD, remove_moderator_role=42)
    assert 42 not in (await shop.shops.get(GUILD)).profile.moderator_role_ids


async def test_setup_sets_a_tier_role_and_creates_a_new_tier(shop: Shop) -> None:
    """A new tier can then be sold."""
    change = await shop.admin.setup(GUILD, tier="Gold", tier_role_id=77)
    assert change.after == {"tier gold role": 77} and change.before == {"tier gold role": None}
    tiers = (await shop.shops.get(GUILD)).tiers
    assert tiers["gold"].role_id == 77 and tiers["gold"].reminder_days == [14, 3]
    assert tiers["paid"].role_id == PAID_ROLE
    await shop.admin.add_item(
        GUILD,
        {
            "sku": "gold",
            "name": "Gold",
            "price": 100,
            "kind": "membership",
            "tier": "gold",
            "months": 1,
        },
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"currency": "XYZ"}, "not an ISO 4217 currency"),
        ({"locale": "xx_YY"}, "not a locale"),
        ({}, "Nothing to change"),
        ({"tier": "paid"}, "tier and the role"),
    ],
)
async def test_bad_setup_is_refused_and_nothing_changes(
    shop: Shop, changes: dict[str, Any], message: str
) -> None:
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match=message):
        await shop.admin.setup(GUILD, **changes)
    assert await snapshot(shop.ctx.db) == before


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("4.99", "USD", "en_US", 499),
        ("$4.99", "USD", "en_US", 499),
        ("4,99", "EUR", "de_DE", 499),
        ("4,99 €", "EUR", "de_DE", 499),
        ("4.99", "EUR", "de_DE", 499),
        ("1,000.50", "USD", "en_US", 100050),
        ("500", "JPY", "ja_JP", 500),
        ("5", "USD", "en_US", 500),
    ],
)
async def test_prices_are_read_as_typed(text: str, currency: str, locale: str, minor: int) -> None:
    assert parse_price(text, currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("4.999", "USD", "USD prices have 2 decimal places"),
        ("5.5", "JPY", "JPY prices have no decimals"),
        ("0", "USD", "more than zero"),
        ("-4.99", "USD", "more than zero"),
        ("four", "USD", "is not a price"),
        ("", "USD", "Give a price"),
    ],
)
async def test_bad_prices_are_refused(text: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_price(text, currency, "en_US")


async def test_options_are_read_one_a_line() -> None:
    """TOML values, bare words as strings, dates as UTC midnight, comments skipped."""
    text = "tier = paid\nmonths = 3\n# a note\ngiftable = false\navailable_from = 2026-12-01\n"
    assert parse_options(text) == {
        "tier": "paid",
        "months": 3,
        "giftable": False,
        "available_from": datetime(2026, 12, 1, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("months 3", "line 1 .*key = value"),
        ("months = 1\nprice = 3", "line 2 .*price has its own field"),
        ("months = 1\nmonths = 2", "months is given twice"),
    ],
)
async def test_bad_option_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_options(text)


async def test_options_text_reads_back_as_the_same_options() -> None:
    """The edit form's prefill parses to what the item has."""
    item = ItemConfig(
        sku="x",
        name="X",
        price=100,
        kind="membership",
        tier="paid",
        months=1,
        stock=5,
        available_until=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert parse_options(options_text(item)) == {
        "tier": "paid",
        "months": 1,
        "stock": 5,
        "available_until": datetime(2027, 1, 1, tzinfo=UTC),
    }


@pytest_asyncio.fixture
async def other_process(database_url: str, database: Database, clock: FakeClock) -> Any:
    db = Database(create_engine(database_url))
    yield Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    await db.dispose()


async def test_a_stock_cut_racing_checkouts_never_oversells(
    shop: Shop, other_process: Shop
) -> None:
    """Stock 5, five carts of one; the stock is cut to 2 while all five check out on two
    processes: however they interleave, no more is sold than the stock allows, and the
    units left are exactly the stock less what sold."""
    await shop.admin.add_item(GUILD, {**STICKER, "stock": 5})
    members = [ALICE + 200 + i for i in range(5)]
    for member in members:
        await shop.carts.add(GUILD, member, "sticker")
    results = await asyncio.gather(
        shop.admin.edit_item(GUILD, "sticker", {"stock": 2}),
        *(
            (shop if i % 2 else other_process).orders.checkout(GUILD, member)
            for i, member in enumerate(members)
        ),
        return_exceptions=True,
    )
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, InvalidInput)
    ]
    assert unexpected == []
    await shop.shops.refresh()
    stock = (await shop.shops.get(GUILD)).catalog.require("sticker").stock
    assert stock is not None
    sold = sum(1 for r in results[1:] if not isinstance(r, BaseException))
    item = (await shop.shops.get(GUILD)).catalog.require("sticker")
    left = await shop.ctx.db.read(lambda c: remaining(c, GUILD, [item]))
    assert sold <= stock
    assert left == {"sticker": stock - sold}
