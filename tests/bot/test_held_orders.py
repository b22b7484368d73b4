"""Held orders are listed, shown with why, and resolved by moderators — audited."""

from __future__ import annotations

import pytest

from payments.fake import FakeGateway, FaultPlan
from store.orders import Order, OrderState
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


def _moderation_posts(shopfront: Shopfront) -> list[dict[str, str]]:
    """Moderator actions in the audit channel (review alerts are posted there too)."""
    posts = [
        {f["name"]: f["value"] for f in post.get("fields", [])} for post in shopfront.audit_posts()
    ]
    return [post for post in posts if "Who" in post]


def _gateway(shopfront: Shopfront) -> FakeGateway:
    gateway = shopfront.bot.gateway
    assert isinstance(gateway, FakeGateway)
    return gateway


async def _held(shopfront: Shopfront, points: int = 0) -> Order:
    """Alice checks out; the gateway reports one cent short, so the order is held."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    if points:
        await shop.grants.grant_points(guild, shopfront.mod.id, shopfront.alice.id, points, "seed")
    await shop.carts.add(guild, shopfront.alice.id, "paid-12m")
    outcome = await shopfront.bot.flow.checkout(guild, shopfront.alice.id, points=points)
    assert outcome.session is not None
    gateway = _gateway(shopfront)
    gateway.faults = FaultPlan(amount_delta=-1)
    await gateway.perform(outcome.session.session_id, "pay")
    await gateway.drain()
    gateway.faults = FaultPlan()
    order = await shop.orders.get(guild, outcome.order.id)
    assert order.state is OrderState.HELD
    return order


async def _order(shopfront: Shopfront, order: Order) -> Order:
    return await shopfront.bot.shop.orders.get(shopfront.guild_id, order.id)


async def test_review_lists_a_held_order_with_its_reason(shopfront: Shopfront) -> None:
    """/shopadmin review names the order, the buyer and why it waits."""
    order = await _held(shopfront)
    result = await shopfront.harness.slash(shopfront.mod, "shopadmin", "review")
    [field] = [f for f in result.embed["fields"] if f["name"].startswith("#")]
    assert field["name"].startswith(f"#{order.id} held")
    assert (
        f"<@{shopfront.alice.id}>" in field["value"] and "but the order was for" in field["value"]
    )


async def test_order_lookup_shows_why_it_is_held_and_how_to_resolve(shopfront: Shopfront) -> None:
    """/shopadmin order shows the held reason and the resolve command."""
    order = await _held(shopfront)
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "order", options={"order_id": order.id}
    )
    fields = {f["name"]: f["value"] for f in result.embed["fields"]}
    assert "but the order was for" in fields["Held for review"]
    assert f"/shopadmin resolve order_id:{order.id}" in fields["Resolve"]


async def test_resolving_as_paid_fulfils_and_is_audited(shopfront: Shopfront) -> None:
    """fulfil: the order is fulfilled, the role given, the audit channel told who and why."""
    order = await _held(shopfront)
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": order.id, "action": "fulfil", "reason": "customer paid the cent"},
    )
    assert result.embed["title"] == "Done"
    assert (await _order(shopfront, order)).state is OrderState.FULFILLED
    await shopfront.effects_delivered()
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles
    [values] = _moderation_posts(shopfront)
    assert values["What"] == f"resolved held order #{order.id}: fulfilled as paid"
    assert values["Who"] == f"<@{shopfront.mod.id}>" and values["Why"] == "customer paid the cent"


async def test_resolving_as_refund_refunds_and_releases_points(shopfront: Shopfront) -> None:
    """refund: money back through the gateway; its event makes the order refunded, points free."""
    order = await _held(shopfront, points=100)
    shop = shopfront.bot.shop
    held = await shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    assert held.points_reserved == 100
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": order.id, "action": "refund", "reason": "wrong amount"},
    )
    assert result.embed["title"] == "Done"
    await _gateway(shopfront).drain()
    assert (await _order(shopfront, order)).state is OrderState.REFUNDED
    account = await shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    assert (account.points, account.points_reserved) == (100, 0)
    [values] = _moderation_posts(shopfront)
    assert values["What"] == (f"resolved held order #{order.id}: refund requested")


async def test_resolving_an_order_that_is_not_held_is_refused(shopfront: Shopfront) -> None:
    """A pending order is not resolved; nothing is audited."""
    await shopfront.bot.shop.carts.add(shopfront.guild_id, shopfront.alice.id, "paid-1m")
    pending = await shopfront.bot.flow.checkout(shopfront.guild_id, shopfront.alice.id)
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": pending.order.id, "action": "fulfil", "reason": "x"},
    )
    assert "not held" in result.embed["description"]
    assert (await _order(shopfront, pending.order)).state is OrderState.PENDING
    assert _moderation_posts(shopfront) == []


async def test_refund_of_an_unpaid_order_is_refused_with_the_stores_reason(
    shopfront: Shopfront,
) -> None:
    """/shopadmin refund says why it can't, asks the gateway nothing, audits nothing."""
    await shopfront.bot.shop.carts.add(shopfront.guild_id, shopfront.alice.id, "paid-1m")
    pending = await shopfront.bot.flow.checkout(shopfront.guild_id, shopfront.alice.id)
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "refund",
        options={"order_id": pending.order.id, "reason": "asked"},
    )
    assert result.embed["description"] == (
        f"Order #{pending.order.id} was never paid, so there is nothing to refund."
    )
    assert _moderation_posts(shopfront) == []


async def test_refund_of_a_disputed_order_is_refused(shopfront: Shopfront) -> None:
    """A dispute decides the money; a refund on top is refused."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.carts.add(guild, shopfront.alice.id, "paid-1m")
    outcome = await shopfront.bot.flow.checkout(guild, shopfront.alice.id)
    assert outcome.session is not None
    gateway = _gateway(shopfront)
    await gateway.perform(outcome.session.session_id, "pay")
    await gateway.perform(outcome.session.session_id, "dispute")
    await gateway.drain()
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "refund", options={"order_id": outcome.order.id, "reason": "x"}
    )
    assert "is disputed" in result.embed["description"]
    assert (await _order(shopfront, outcome.order)).state is OrderState.DISPUTED
