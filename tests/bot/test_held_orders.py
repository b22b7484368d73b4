"""Held orders are listed, shown with why, and resolved by moderators — audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.testing import FakeMember
from payments.fake import FakeGateway, FaultPlan
from store.db.engine import Database
from store.orders import Order, OrderState
from tests.bot.conftest import Shopfront
from tests.reliability.conftest import build_shopfront
from tests.store.helpers import snapshot
from tests.support import FakeClock

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


async def _held(shopfront: Shopfront, points: int = 0, buyer: FakeMember | None = None) -> Order:
    """Alice (or `buyer`) checks out; the gateway reports one cent short: the order is held."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    member = buyer or shopfront.alice
    if points:
        await shop.grants.grant_points(guild, shopfront.bob.id, member.id, points, "seed")
    await shop.carts.add(guild, member.id, "paid-12m")
    outcome = await shopfront.bot.flow.checkout(guild, member.id, points=points)
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


async def test_resolving_by_refund_an_order_that_is_not_held_is_refused(
    shopfront: Shopfront,
) -> None:
    """action:refund on a fulfilled order: the store's reason, no refund asked, no audit."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.carts.add(guild, shopfront.alice.id, "paid-1m")
    outcome = await shopfront.bot.flow.checkout(guild, shopfront.alice.id)
    assert outcome.session is not None
    await _gateway(shopfront).perform(outcome.session.session_id, "pay")
    await _gateway(shopfront).drain()
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": outcome.order.id, "action": "refund", "reason": "x"},
    )
    assert result.embed["description"] == (
        f"Order #{outcome.order.id} is fulfilled, not held: nothing to resolve. "
        "To return its money, refund it instead."
    )
    assert _gateway(shopfront).session(outcome.session.session_id)["refunds"] == []
    assert _moderation_posts(shopfront) == []


OWN_ORDER = (
    "is yours (you bought it or receive part of it), and moderators can't accept payment "
    "for their own orders in this shop: ask another moderator"
)


async def test_a_moderator_cannot_accept_their_own_held_order(shopfront: Shopfront) -> None:
    """The moderator's own held order: refused with why; nothing changes, nothing audited."""
    order = await _held(shopfront, buyer=shopfront.mod)
    await shopfront.effects_delivered()  # the held alert, so the outbox stands still
    before = await snapshot(shopfront.bot.database)
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": order.id, "action": "fulfil", "reason": "it's fine"},
    )
    assert result.embed["title"] == "Can't do that"
    assert OWN_ORDER in result.embed["description"]
    assert await snapshot(shopfront.bot.database) == before
    assert (await _order(shopfront, order)).state is OrderState.HELD
    assert _moderation_posts(shopfront) == []


async def test_a_moderator_cannot_accept_a_held_order_that_gifts_them(
    shopfront: Shopfront,
) -> None:
    """Alice's held order gives the moderator a month: they may not accept it either."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.carts.add(guild, shopfront.alice.id, "paid-1m", recipient_id=shopfront.mod.id)
    order = await _held(shopfront)
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "resolve",
        options={"order_id": order.id, "action": "fulfil", "reason": "it's fine"},
    )
    assert OWN_ORDER in result.embed["description"]
    assert (await _order(shopfront, order)).state is OrderState.HELD


def _may_grant_self(data: dict[str, Any]) -> None:
    data["discord"]["moderators_may_grant_self"] = True


@pytest_asyncio.fixture
async def lenient(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Shopfront]:
    """A shop whose configuration lets moderators grant to themselves."""
    async with build_shopfront(database_url, clock, _may_grant_self) as shopfront:
        yield shopfront


async def test_where_self_grants_are_allowed_a_moderator_accepts_their_own(
    lenient: Shopfront,
) -> None:
    """moderators_may_grant_self = true: the moderator's own held order is fulfilled, audited."""
    order = await _held(lenient, buyer=lenient.mod)
    result = await lenient.harness.slash(
        lenient.mod,
        "shopadmin",
        "resolve",
        options={"order_id": order.id, "action": "fulfil", "reason": "allowed here"},
    )
    assert result.embed["title"] == "Done"
    assert (await _order(lenient, order)).state is OrderState.FULFILLED
    [values] = _moderation_posts(lenient)
    assert values["Who"] == values["Whom"] == f"<@{lenient.mod.id}>"


async def test_review_lists_a_partially_refunded_order_with_its_reason(
    shopfront: Shopfront,
) -> None:
    """A partial refund asks whether to take anything back: /shopadmin review shows it."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.carts.add(guild, shopfront.alice.id, "paid-12m")
    outcome = await shopfront.bot.flow.checkout(guild, shopfront.alice.id)
    assert outcome.session is not None
    gateway = _gateway(shopfront)
    await gateway.perform(outcome.session.session_id, "pay")
    await gateway.perform(outcome.session.session_id, "refund", amount=500)
    await gateway.drain()
    result = await shopfront.harness.slash(shopfront.mod, "shopadmin", "review")
    [field] = [f for f in result.embed["fields"] if f["name"].startswith("#")]
    assert field["name"].startswith(f"#{outcome.order.id} partially refunded")
    assert "decide whether to take anything back" in field["value"]
