"""Properties over generated operation sequences (hypothesis).

Each example uses fresh member ids on the test's database, so examples don't
interfere and every step runs against the real database.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.errors import StoreError
from store.orders import Order
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
)
from tests.support import GUILD

SKUS = ["paid-1m", "paid-12m", "paid-forever", "premium-6m", "trial-7d", "points-100", "nope"]
_members = itertools.count(10_000)

cart_op = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(SKUS),
        st.integers(min_value=-1, max_value=12),
        st.sampled_from([None, 1, 2]),
        st.booleans(),
    ),
    st.tuples(st.just("remove"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("clear")),
)
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.asyncio
@PROPERTY_SETTINGS
@given(ops=st.lists(cart_op, max_size=15))
async def test_cart_total_is_always_the_sum_of_its_lines(shop: Shop, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    """Whatever members do, the summary's total and count match its lines."""
    member = next(_members)
    for op in ops:
        try:
            if op[0] == "add":
                _, sku, quantity, recipient, anonymous = op
                rid = None if recipient is None else member * 10 + recipient
                summary = await shop.carts.add(
                    GUILD, member, sku, quantity=quantity, recipient_id=rid, anonymous=anonymous
                )
            elif op[0] == "remove":
                current = await shop.carts.view(GUILD, member)
                line_ids = [line.id for line in current.lines] or [op[1]]
                summary = await shop.carts.remove(GUILD, member, line_ids[op[1] % len(line_ids)])
            else:
                summary = await shop.carts.clear(GUILD, member)
        except StoreError:
            summary = await shop.carts.view(GUILD, member)
        assert summary.total.amount == sum(
            ln.unit_price.amount * ln.quantity for ln in summary.lines
        )
        assert summary.item_count == sum(ln.quantity for ln in summary.lines)
        assert summary == await shop.carts.view(GUILD, member)


money_op = st.one_of(
    st.tuples(st.just("grant"), st.integers(min_value=-5, max_value=400)),
    st.tuples(st.just("revoke"), st.integers(min_value=-5, max_value=400)),
    st.tuples(st.just("buy_points"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("spend"), st.integers(min_value=0, max_value=300)),
    st.tuples(
        st.just("refund_last"),
    ),
)


@pytest.mark.asyncio
@PROPERTY_SETTINGS
@given(ops=st.lists(money_op, max_size=12))
async def test_balances_always_equal_the_ledger(shop: Shop, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    """Grants, revocations, purchases, spends and refunds never break the books."""
    member = next(_members)
    paid: list[Order] = []
    for step, op in enumerate(ops):
        try:
            if op[0] == "grant":
                await shop.grants.grant_points(GUILD, 1, member, op[1], "prop")
            elif op[0] == "revoke":
                await shop.grants.revoke_points(GUILD, 1, member, op[1], "prop")
            elif op[0] == "buy_points":
                await shop.carts.add(GUILD, member, "points-100", quantity=op[1])
                order = await checkout_paid_by_card(shop, member)
                await shop.fulfilment.apply(
                    gateway_event(order, "payment_succeeded", f"{member}-{step}")
                )
                paid.append(order)
            elif op[0] == "spend":
                await shop.carts.add(GUILD, member, "trial-7d")
                await shop.orders.checkout(GUILD, member, points=op[1])
            elif op[0] == "refund_last" and paid:
                await shop.fulfilment.apply(
                    gateway_event(paid.pop(), "refund_succeeded", f"{member}-r{step}")
                )
        except StoreError:
            pass
        account = await shop.accounts.account(GUILD, member)
        assert account.points >= 0
        assert 0 <= account.points_reserved <= account.points
    await assert_balances_match_ledger(shop.ctx.db)
