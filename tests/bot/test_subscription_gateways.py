"""A gateway that cannot renew is never offered a subscription."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from bot.payflow import PaymentChoice, PaymentFlow, PaymentUnavailable
from payments.fake import FakeGateway, FakeOptions
from payments.gateway import GatewayContext
from store.config import ItemConfig
from store.db.engine import Database
from store.shop import Shop
from tests.bot.test_subscription_flow import WITH_SUBSCRIPTION
from tests.bot.two_gateways import two_gateway_front
from tests.support import ALICE, GUILD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio


class OneOffOnly(FakeGateway):
    """The fake gateway as one that takes only one-off payments would be."""

    name: ClassVar[str] = "one-off"
    supports_subscriptions: ClassVar[bool] = False


def _buttons(result: Any) -> list[str]:
    return [c.get("label", "") for row in result.components for c in row["components"]]


async def test_a_cart_with_a_subscription_is_offered_no_points_beside_the_gateways(
    database: Database, database_url: str, clock: FakeClock
) -> None:
    """Stripe and the fake both renew: the member chooses, but never "Use my points"."""
    async with two_gateway_front(database_url, clock, **WITH_SUBSCRIPTION) as (front, _stub):
        shop, alice = front.bot.shop, front.alice
        await shop.grants.grant_points(front.guild_id, 1, alice.id, 10_000, "test")
        await front.harness.slash(alice, "cart", "add", options={"item": "paid-monthly"})
        choice = await front.harness.slash(alice, "checkout")
        labels = _buttons(choice)
        assert len([label for label in labels if "points" in label.lower()]) == 0
        assert len(labels) >= 2


def _flow(database: Database, clock: FakeClock, *gateways: FakeGateway) -> PaymentFlow:
    monthly = ItemConfig(
        sku="paid-monthly",
        name="Paid, monthly",
        price=300,
        kind="membership",
        tier="paid",
        billing="subscription",
        interval="month",
    )
    config = sample_store(items=[*sample_store().items, monthly])
    shop = Shop.build(database, config, sample_tiers(), clock=clock)
    return PaymentFlow(shop, gateways, public_url="http://127.0.0.1:9")


def _gateway(cls: type[FakeGateway], clock: FakeClock) -> FakeGateway:
    context = GatewayContext(shop_name="Test", public_url="http://127.0.0.1:9", clock=clock)
    return cls(FakeOptions.model_validate({"webhook_secret": "s"}), context)


async def test_a_shop_whose_gateways_cannot_renew_refuses_the_checkout_and_keeps_the_cart(
    database: Database, clock: FakeClock
) -> None:
    flow = _flow(database, clock, _gateway(OneOffOnly, clock))
    await flow.shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(PaymentUnavailable, match="can renew a subscription"):
        await flow.begin_checkout(GUILD, ALICE)
    assert await flow.shop.orders.recent(GUILD, ALICE) == []
    assert [line.sku for line in (await flow.shop.carts.view(GUILD, ALICE)).lines] == [
        "paid-monthly"
    ]


async def test_of_two_gateways_only_the_one_that_renews_takes_a_subscription(
    database: Database, clock: FakeClock
) -> None:
    """The default cannot renew: no choice to make, the order goes to the other."""
    flow = _flow(database, clock, _gateway(OneOffOnly, clock), _gateway(FakeGateway, clock))
    await flow.shop.carts.add(GUILD, ALICE, "paid-monthly")
    outcome = await flow.begin_checkout(GUILD, ALICE)
    assert not isinstance(outcome, PaymentChoice)
    assert outcome.order.gateway == "fake"


async def test_choosing_a_gateway_that_cannot_renew_is_refused_before_any_order(
    database: Database, clock: FakeClock
) -> None:
    flow = _flow(database, clock, _gateway(OneOffOnly, clock), _gateway(FakeGateway, clock))
    await flow.shop.carts.add(GUILD, ALICE, "paid-monthly")
    with pytest.raises(PaymentUnavailable, match="can't renew a subscription"):
        await flow.checkout(GUILD, ALICE, gateway="one-off")
    assert await flow.shop.orders.recent(GUILD, ALICE) == []
