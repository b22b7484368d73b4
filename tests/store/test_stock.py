"""Limited stock, sale windows and per-member limits, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from store.config import ItemConfig, StoreConfig
from store.db.engine import Database, create_engine
from store.errors import InvalidInput
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event, snapshot
from tests.support import ALICE, BOB, GUILD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio

OPENS = datetime(2026, 2, 1, tzinfo=UTC)
CLOSES = datetime(2026, 2, 8, tzinfo=UTC)


def limited_store(**limits: object) -> StoreConfig:
    """The sample shop plus "badge", 500 a unit, with the given limits."""
    base = sample_store()
    badge = ItemConfig(
        sku="badge", name="Founder badge", price=500, kind="points", points=1, **limits
    )
    return sample_store(items=[*base.items, badge])


def limited_shop(database: Database, clock: FakeClock, **limits: object) -> Shop:
    return Shop.build(database, limited_store(**limits), sample_tiers(), clock=clock)


async def test_the_last_unit_sold_makes_the_item_sold_out(
    database: Database, clock: FakeClock
) -> None:
    """Two in stock, two ordered: /shop lists it sold out and Bob can't add it."""
    shop = limited_shop(database, clock, stock=2)
    assert await shop.carts.sold_out(GUILD) == frozenset()
    await shop.carts.add(GUILD, ALICE, "badge", quantity=2)
    await checkout_paid_by_card(shop, ALICE)
    assert await shop.carts.sold_out(GUILD) == {"badge"}
    with pytest.raises(InvalidInput, match="Founder badge is sold out"):
        await shop.carts.add(GUILD, BOB, "badge")


async def test_adding_more_than_is_left_is_refused(database: Database, clock: FakeClock) -> None:
    """Three left: a cart may not ask for four."""
    shop = limited_shop(database, clock, stock=3)
    with pytest.raises(InvalidInput, match="Only 3 of Founder badge are left"):
        await shop.carts.add(GUILD, ALICE, "badge", quantity=4)


async def test_a_cancelled_order_gives_its_units_back(database: Database, clock: FakeClock) -> None:
    """Alice cancels the order that took the last unit; Bob can buy it."""
    shop = limited_shop(database, clock, stock=1)
    await shop.carts.add(GUILD, ALICE, "badge")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.orders.cancel(GUILD, ALICE, order.id)
    assert await shop.carts.sold_out(GUILD) == frozenset()
    await shop.carts.add(GUILD, BOB, "badge")
    assert (await shop.orders.checkout(GUILD, BOB)).order.state is OrderState.PENDING


async def test_an_expired_order_gives_its_units_back(database: Database, clock: FakeClock) -> None:
    """The gateway's link expired: the unit is for sale again."""
    shop = limited_shop(database, clock, stock=1)
    await shop.carts.add(GUILD, ALICE, "badge")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "checkout_expired", "evt_exp"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.EXPIRED
    assert await shop.carts.sold_out(GUILD) == frozenset()


async def test_a_lapsed_order_paid_after_all_takes_its_units_again(
    database: Database, clock: FakeClock
) -> None:
    """Expired, then paid anyway: the paid order holds the unit, so it is sold out."""
    shop = limited_shop(database, clock, stock=1)
    await shop.carts.add(GUILD, ALICE, "badge")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.orders.lapse(order.id, OrderState.EXPIRED)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "evt_paid"))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.FULFILLED
    assert await shop.carts.sold_out(GUILD) == {"badge"}


async def test_checkout_refuses_a_line_sold_out_since_it_was_added(
    database: Database, clock: FakeClock
) -> None:
    """Both carts hold the last unit; Alice checks out first, Bob is told and nothing
    of his changes."""
    shop = limited_shop(database, clock, stock=1)
    await shop.carts.add(GUILD, ALICE, "badge")
    await shop.carts.add(GUILD, BOB, "badge")
    await shop.orders.checkout(GUILD, ALICE)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="Founder badge sold out since you added it"):
        await shop.orders.checkout(GUILD, BOB)
    assert await snapshot(shop.ctx.db) == before


@pytest_asyncio.fixture
async def other_process(
    database_url: str, database: Database, clock: FakeClock
) -> AsyncIterator[Shop]:
    db = Database(create_engine(database_url))
    yield Shop.build(db, limited_store(stock=3), sample_tiers(), clock=clock)
    await db.dispose()


async def test_ten_concurrent_checkouts_of_the_last_three_units_sell_exactly_three(
    database: Database, clock: FakeClock, other_process: Shop
) -> None:
    """Ten members, one unit each in their cart, check out at once on two processes."""
    shop = limited_shop(database, clock, stock=3)
    members = [ALICE + 100 + i for i in range(10)]
    for member in members:
        await shop.carts.add(GUILD, member, "badge")
    results = await asyncio.gather(
        *(
            (shop if i % 2 else other_process).orders.checkout(GUILD, member)
            for i, member in enumerate(members)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert (len(made), len(refused)) == (3, 7)
    assert await shop.carts.sold_out(GUILD) == {"badge"}


async def test_an_item_is_not_sold_before_its_window_opens(
    database: Database, clock: FakeClock
) -> None:
    shop = limited_shop(database, clock, available_from=OPENS, available_until=CLOSES)
    clock.now = OPENS - timedelta(seconds=1)
    with pytest.raises(InvalidInput, match="Founder badge is not on sale yet"):
        await shop.carts.add(GUILD, ALICE, "badge")
    clock.now = OPENS
    await shop.carts.add(GUILD, ALICE, "badge")


async def test_an_item_is_not_sold_after_its_window_closes(
    database: Database, clock: FakeClock
) -> None:
    """Added in time but checked out too late: the checkout refuses the line."""
    shop = limited_shop(database, clock, available_from=OPENS, available_until=CLOSES)
    clock.now = CLOSES - timedelta(minutes=1)
    await shop.carts.add(GUILD, ALICE, "badge")
    clock.now = CLOSES
    with pytest.raises(InvalidInput, match="Founder badge is no longer on sale"):
        await shop.orders.checkout(GUILD, ALICE)
    with pytest.raises(InvalidInput, match="no longer on sale"):
        await shop.carts.add(GUILD, BOB, "badge")


async def test_the_per_member_limit_counts_every_order_that_is_not_undone(
    database: Database, clock: FakeClock
) -> None:
    """Limit three: two in a paid order and one pending fill it; cancelling the
    pending one frees its unit again."""
    shop = limited_shop(database, clock, per_member_limit=3)
    await shop.carts.add(GUILD, ALICE, "badge", quantity=2)
    paid = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(paid, "payment_succeeded", "evt_1"))
    with pytest.raises(InvalidInput, match=r"at most 3 of Founder badge.*already bought 2"):
        await shop.carts.add(GUILD, ALICE, "badge", quantity=2)
    await shop.carts.add(GUILD, ALICE, "badge")
    pending = await checkout_paid_by_card(shop, ALICE)
    with pytest.raises(InvalidInput, match="at most 3"):
        await shop.carts.add(GUILD, ALICE, "badge")
    await shop.orders.cancel(GUILD, ALICE, pending.id)
    assert (await shop.orders.checkout(GUILD, ALICE)).created


async def test_checkout_refuses_beyond_a_limit_lowered_since_the_add(
    database: Database, clock: FakeClock
) -> None:
    """Three in the cart under a limit of five; the shop restarts with a limit of two."""
    await limited_shop(database, clock, per_member_limit=5).carts.add(
        GUILD, ALICE, "badge", quantity=3
    )
    shop = limited_shop(database, clock, per_member_limit=2)
    with pytest.raises(InvalidInput, match="at most 2 of Founder badge"):
        await shop.orders.checkout(GUILD, ALICE)
