"""Concurrency on both databases: nothing lost, nothing granted twice.

The "second process" is a second engine with its own pool and its own writer lock:
to the database it is indistinguishable from another process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from store.db.engine import Database, create_engine
from store.errors import StoreError
from store.fulfilment import Outcome
from store.orders import OrderState
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
)
from tests.support import ALICE, GUILD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def other_process(
    database_url: str, database: Database, clock: FakeClock
) -> AsyncIterator[Shop]:
    db = Database(create_engine(database_url))
    yield Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    await db.dispose()


async def test_fifty_concurrent_adds_lose_none(shop: Shop) -> None:
    """Fifty presses of Add at once make quantity fifty."""
    await asyncio.gather(*(shop.carts.add(GUILD, ALICE, "paid-1m") for _ in range(50)))
    cart = await shop.carts.view(GUILD, ALICE)
    assert [(line.sku, line.quantity) for line in cart.lines] == [("paid-1m", 50)]


async def test_concurrent_gifts_to_different_members_keep_every_line(shop: Shop) -> None:
    """Twenty distinct lines added at once are all there."""
    await asyncio.gather(
        *(shop.carts.add(GUILD, ALICE, "points-100", recipient_id=7000 + i) for i in range(20))
    )
    assert len((await shop.carts.view(GUILD, ALICE)).lines) == 20


async def test_two_concurrent_checkouts_make_one_order(shop: Shop, other_process: Shop) -> None:
    """Double-clicking Checkout, even on two processes, creates one order."""
    await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=3)
    results = await asyncio.gather(
        shop.orders.checkout(GUILD, ALICE), other_process.orders.checkout(GUILD, ALICE)
    )
    assert results[0].order.id == results[1].order.id
    assert sorted(r.created for r in results) == [False, True]
    assert len(await shop.orders.recent(GUILD, ALICE)) == 1


async def test_twenty_concurrent_fulfilments_grant_once(shop: Shop, other_process: Shop) -> None:
    """The same payment applied twenty times at once, across two processes, grants once."""
    await shop.carts.add(GUILD, ALICE, "points-100", quantity=2)
    order = await checkout_paid_by_card(shop, ALICE)
    events = [gateway_event(order, "payment_succeeded", f"evt_{i % 4}") for i in range(20)]
    results = await asyncio.gather(
        *((shop if i % 2 else other_process).fulfilment.apply(e) for i, e in enumerate(events))
    )
    assert [r.outcome for r in results].count(Outcome.APPLIED) == 1
    assert (await shop.accounts.account(GUILD, ALICE)).points == 200
    assert len(await shop.accounts.ledger(GUILD, ALICE)) == 1
    await assert_balances_match_ledger(shop.ctx.db)


async def test_refund_racing_fulfilment_leaves_the_ledger_consistent(
    shop: Shop, other_process: Shop
) -> None:
    """Whichever wins, the balance equals the ledger and the end state is refunded."""
    await shop.carts.add(GUILD, ALICE, "points-100", quantity=3)
    order = await checkout_paid_by_card(shop, ALICE)
    paid = gateway_event(order, "payment_succeeded", "pay")
    refund = gateway_event(order, "refund_succeeded", "refund")
    await asyncio.gather(shop.fulfilment.apply(refund), other_process.fulfilment.apply(paid))
    assert (await shop.orders.get(GUILD, order.id)).state is OrderState.REFUNDED
    assert (await shop.accounts.account(GUILD, ALICE)).points == 0
    await assert_balances_match_ledger(shop.ctx.db)


async def test_concurrent_spends_never_overdraw(shop: Shop, other_process: Shop) -> None:
    """Ten checkouts paid in points from one balance: only what the balance covers."""
    await shop.grants.grant_points(GUILD, 1, ALICE, 90, "seed")
    members = [ALICE] * 10

    async def buy(s: Shop) -> bool:
        try:
            await s.carts.add(GUILD, ALICE, "trial-7d")
            result = await s.orders.checkout(GUILD, ALICE, points=10)
        except StoreError:
            return False
        return result.order.state is OrderState.FULFILLED

    await asyncio.gather(*(buy(shop if i % 2 else other_process) for i, _ in enumerate(members)))
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.points >= 0 and account.points_reserved <= account.points
    await assert_balances_match_ledger(shop.ctx.db)


async def test_first_memberships_granted_at_once_all_count(shop: Shop, other_process: Shop) -> None:
    """Two processes giving a member their first time of a tier at once (two orders paid
    together, or a grant beside an order): neither fails, both periods count."""
    members = [ALICE + i for i in range(10)]

    async def give(s: Shop, member: int) -> None:
        await s.grants.grant_time(GUILD, 1, member, "paid", "concurrent", days=10)

    await asyncio.gather(
        *(give(s, member) for member in members for s in (shop, other_process, shop))
    )
    for member in members:
        [membership] = (await shop.accounts.account(GUILD, member)).memberships
        assert membership.expires_at == shop.ctx.now() + timedelta(days=30)
        assert len(await shop.accounts.ledger(GUILD, member)) == 3
    await assert_balances_match_ledger(shop.ctx.db)
