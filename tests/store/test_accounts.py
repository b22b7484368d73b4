"""Memberships stack in calendar months; the ledger explains every change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.clock import add_months
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
)
from tests.support import ALICE, GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio


async def _buy(shop: Shop, sku: str, event: str, quantity: int = 1) -> None:
    await shop.carts.add(GUILD, ALICE, sku, quantity=quantity)
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", event))


async def test_time_stacks_from_current_expiry(shop: Shop, clock: FakeClock) -> None:
    """Buying while active extends from the current expiry."""
    await _buy(shop, "paid-1m", "e1")
    clock.advance(days=10)
    await _buy(shop, "paid-1m", "e2")
    account = await shop.accounts.account(GUILD, ALICE)
    # Jan 31 + 1 month = Feb 28; + 1 month from there = Mar 28.
    assert account.memberships[0].expires_at == datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


async def test_expired_membership_restarts_from_now(shop: Shop, clock: FakeClock) -> None:
    """Time bought after expiry counts from the purchase."""
    await _buy(shop, "paid-1m", "e1")
    clock.advance(days=60)
    await _buy(shop, "paid-1m", "e2")
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.memberships[0].expires_at == add_months(clock(), 1)


async def test_ledger_explains_each_expiry_line_by_line(shop: Shop) -> None:
    """Each time change records the expiry before and after."""
    await _buy(shop, "paid-1m", "e1", quantity=2)
    entries = await shop.accounts.ledger(GUILD, ALICE)
    assert entries[0].expires_before is None
    assert entries[0].expires_after == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert "Paid now ends 2026-03-31" in entries[0].explain()


async def test_points_balance_equals_ledger(shop: Shop) -> None:
    """Bought, granted and revoked points all sum to the balance."""
    await _buy(shop, "points-100", "e1", quantity=3)
    await shop.grants.grant_points(GUILD, MOD, ALICE, 50, "welcome")
    await shop.grants.revoke_points(GUILD, MOD, ALICE, 20, "correction")
    account = await shop.accounts.account(GUILD, ALICE)
    assert account.points == 330
    await assert_balances_match_ledger(shop.ctx.db)
