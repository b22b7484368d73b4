"""With several gateways enabled, Checkout asks the member how they would like to pay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.render.checkout import TEST_PAYMENT
from store.db.engine import Database
from tests.bot.conftest import Shopfront
from tests.bot.two_gateways import two_gateway_front
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def front(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Shopfront]:
    async with two_gateway_front(database_url, clock) as (shopfront, _stub):
        yield shopfront


def _buttons(result: Any) -> dict[str, dict[str, Any]]:
    """Every component of the reply by custom_id (link buttons by their label)."""
    return {
        c.get("custom_id") or c["label"]: c for row in result.components for c in row["components"]
    }


def _pay_url(result: Any) -> str:
    return next(c["url"] for row in result.components for c in row["components"] if c.get("url"))


async def _orders(front: Shopfront, member_id: int) -> list[Any]:
    return await front.bot.shop.orders.recent(front.guild_id, member_id)


async def _ask(front: Shopfront) -> Any:
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    return await front.harness.slash(front.alice, "checkout")


async def test_checkout_asks_how_to_pay_with_a_button_per_gateway(front: Shopfront) -> None:
    """One button per enabled gateway, labelled with its display name."""
    asked = await _ask(front)
    assert asked.embed["title"] == "How would you like to pay?"
    buttons = _buttons(asked)
    alice = front.alice.id
    assert buttons[f"checkout:via:{alice}:stripe"]["label"] == "Card (Stripe)"
    assert buttons[f"checkout:via:{alice}:fake"]["label"] == "Test payment (no money)"


async def test_the_choice_of_how_to_pay_gets_no_checkout_button(front: Shopfront) -> None:
    """It already is the checkout: no Checkout to ask again; View cart in its own row."""
    asked = await _ask(front)
    alice = front.alice.id
    rows = [[c["custom_id"] for c in row["components"]] for row in asked.components]
    assert rows == [[f"checkout:via:{alice}:stripe", f"checkout:via:{alice}:fake"], ["shop:cart"]]
    cart = next(f["value"] for f in asked.embed["fields"] if f["name"] == "🛒 Your cart")
    assert "**Checkout**" not in cart


async def test_asking_how_to_pay_makes_no_order(front: Shopfront) -> None:
    """The cart stays a cart until the member chooses."""
    await _ask(front)
    assert await _orders(front, front.alice.id) == []
    cart = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert len(cart.lines) == 1


async def test_choosing_a_gateway_gives_that_gateways_link(front: Shopfront) -> None:
    """Pressing "Card (Stripe)" opens a Stripe session; the order remembers it."""
    asked = await _ask(front)
    paid = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:stripe")
    (order,) = await _orders(front, front.alice.id)
    assert order.gateway == "stripe"
    assert _pay_url(paid) == order.checkout_url
    assert paid.embed["title"] == f"Order #{order.id}"


async def test_choosing_the_test_gateway_says_it_is_a_test_payment(front: Shopfront) -> None:
    """The notice follows the gateway chosen: the fake one takes no money."""
    asked = await _ask(front)
    paid = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:fake")
    (order,) = await _orders(front, front.alice.id)
    assert order.gateway == "fake"
    notices = [f["value"] for f in paid.embed["fields"] if "Test payment" in f["name"]]
    assert notices == [TEST_PAYMENT]


async def test_a_card_gateway_carries_no_test_notice(front: Shopfront) -> None:
    """Stripe takes real money: no test-payment notice beside its link."""
    asked = await _ask(front)
    paid = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:stripe")
    assert not [f for f in paid.embed["fields"] if "Test payment" in f["name"]]


async def test_checkout_again_shows_the_pending_orders_own_link(front: Shopfront) -> None:
    """Once a session exists, Checkout shows it again (same session), not the choice."""
    asked = await _ask(front)
    first = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:stripe")
    again = await front.harness.slash(front.alice, "checkout")
    assert _pay_url(again) == _pay_url(first)
    assert len(await _orders(front, front.alice.id)) == 1


async def test_a_second_choice_keeps_the_first_session(front: Shopfront) -> None:
    """A stale choice pressed after a session exists shows that session, on its gateway."""
    asked = await _ask(front)
    first = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:stripe")
    other = await front.harness.press(front.alice, asked, f"checkout:via:{front.alice.id}:fake")
    assert _pay_url(other) == _pay_url(first)
    (order,) = await _orders(front, front.alice.id)
    assert order.gateway == "stripe"


async def test_the_points_choice_is_offered_when_the_member_has_points(front: Shopfront) -> None:
    """ "Use my N points" sits beside the gateways, as the cart's own points button."""
    shop = front.bot.shop
    await shop.grants.grant_points(front.guild_id, front.mod.id, front.alice.id, 50, "seed")
    asked = await _ask(front)
    points = _buttons(asked)[f"cart:points:{front.alice.id}"]
    assert points["label"] == "Use my 50 points"


async def test_no_points_choice_without_points(front: Shopfront) -> None:
    """A member with no points sees only the gateways."""
    asked = await _ask(front)
    assert f"cart:points:{front.alice.id}" not in _buttons(asked)


async def test_points_that_pay_all_need_no_gateway(front: Shopfront) -> None:
    """Pressing "Use my N points" when they cover the order pays it at once."""
    shop = front.bot.shop
    await shop.grants.grant_points(front.guild_id, front.mod.id, front.alice.id, 500, "seed")
    asked = await _ask(front)
    paid = await front.harness.press(front.alice, asked, f"cart:points:{front.alice.id}")
    assert paid.embed["title"].endswith("paid with points")


async def test_points_first_then_the_choice_for_what_remains(front: Shopfront) -> None:
    """/checkout use_points:true applies the points, then asks how to pay the rest."""
    shop, alice = front.bot.shop, front.alice
    await shop.grants.grant_points(front.guild_id, front.mod.id, alice.id, 50, "seed")
    await front.harness.slash(alice, "cart", "add", options={"item": "paid-12m"})
    asked = await front.harness.slash(alice, "checkout", options={"use_points": True})
    (order,) = await _orders(front, alice.id)
    assert order.points_applied == 50
    assert order.gateway_session_id is None
    assert asked.embed["title"] == f"Order #{order.id}: how would you like to pay?"
    assert f"cart:points:{alice.id}" not in _buttons(asked)
    paid = await front.harness.press(alice, asked, f"checkout:via:{alice.id}:stripe")
    (order,) = await _orders(front, alice.id)
    assert order.gateway == "stripe"
    assert _pay_url(paid) == order.checkout_url
    assert order.cash_due.amount == 2500 - 500


def _posted(front: Shopfront, custom_id: str) -> Any:
    """A public message carrying one button, as a forged or shared one would."""
    row = {
        "type": 1,
        "components": [{"type": 2, "style": 2, "label": "Pay", "custom_id": custom_id}],
    }
    return front.world.post_message(front.world.guild.channel("general"), components=[row])


async def test_another_members_gateway_button_is_refused(front: Shopfront) -> None:
    """Bob cannot check out Alice's cart through her choice."""
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    custom_id = f"checkout:via:{front.alice.id}:stripe"
    refused = await front.harness.press(front.bob, _posted(front, custom_id), custom_id)
    assert "another member's cart" in refused.embed["description"]
    assert await _orders(front, front.alice.id) == []


async def test_a_gateway_not_enabled_is_refused_and_changes_nothing(front: Shopfront) -> None:
    """A forged or stale gateway name gets a clear answer and makes no order."""
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    custom_id = f"checkout:via:{front.alice.id}:paypal"
    refused = await front.harness.press(front.alice, _posted(front, custom_id), custom_id)
    assert "not offered here" in refused.embed["description"]
    assert await _orders(front, front.alice.id) == []


async def test_a_shop_offering_one_gateway_goes_straight_to_it(front: Shopfront) -> None:
    """The moderators chose the test gateway only: no question, its link at once."""
    done = await front.harness.slash(front.mod, "shopadmin", "setup", options={"gateways": "fake"})
    assert "fake" in str(done.embed["fields"])
    asked = await _ask(front)
    assert asked.embed["title"] != "How would you like to pay?"
    assert "/fake-gateway/" in _pay_url(asked)


async def test_a_gateway_the_shop_does_not_offer_is_refused(front: Shopfront) -> None:
    """A button from before the change (or forged) for a gateway the shop no longer
    offers: refused, and no order is made."""
    await front.harness.slash(front.mod, "shopadmin", "setup", options={"gateways": "stripe"})
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    custom_id = f"checkout:via:{front.alice.id}:fake"
    refused = await front.harness.press(front.alice, _posted(front, custom_id), custom_id)
    assert "not offered here" in refused.embed["description"]
    assert await _orders(front, front.alice.id) == []


async def test_all_offers_every_enabled_gateway_again(front: Shopfront) -> None:
    await front.harness.slash(front.mod, "shopadmin", "setup", options={"gateways": "fake"})
    await front.harness.slash(front.mod, "shopadmin", "setup", options={"gateways": "all"})
    asked = await _ask(front)
    assert asked.embed["title"] == "How would you like to pay?"


async def test_an_unknown_gateway_name_is_refused(front: Shopfront) -> None:
    refused = await front.harness.slash(
        front.mod, "shopadmin", "setup", options={"gateways": "paypal"}
    )
    assert "Not a way of paying here: paypal" in refused.embed["description"]
    asked = await _ask(front)
    assert asked.embed["title"] == "How would you like to pay?"
