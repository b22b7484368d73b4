"""An order keeps the first gateway session attached to it, and only while pending."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.orders import Order, OrderState
from store.shop import Shop
from tests.support import ALICE, GUILD

pytestmark = pytest.mark.asyncio


async def _attach(shop: Shop, order_id: int, gateway: str, session_id: str) -> Order:
    return await shop.orders.attach_session(
        order_id,
        gateway=gateway,
        session_id=session_id,
        url=f"https://pay.invalid/{session_id}",
        expires_at=shop.ctx.now() + timedelta(hours=1),
    )


async def _pending(shop: Shop) -> Order:
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    return (await shop.orders.checkout(GUILD, ALICE)).order


async def test_a_second_session_does_not_replace_the_first(shop: Shop) -> None:
    """Two gateways pressed at once: the order keeps the session attached first."""
    order = await _pending(shop)
    await _attach(shop, order.id, "stripe", "cs_first")
    kept = await _attach(shop, order.id, "fake", "fs_second")
    assert (kept.gateway, kept.gateway_session_id) == ("stripe", "cs_first")
    assert kept.checkout_url == "https://pay.invalid/cs_first"


async def test_a_cancelled_order_takes_no_session(shop: Shop) -> None:
    """A press racing Cancel: the link it opened is not attached to the cancelled order."""
    order = await _pending(shop)
    await shop.orders.cancel(GUILD, ALICE, order.id)
    after = await _attach(shop, order.id, "fake", "fs_late")
    assert after.state is OrderState.CANCELLED
    assert after.gateway_session_id is None and after.checkout_url is None
