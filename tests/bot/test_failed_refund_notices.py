"""A gift taken back by a refund that then fails: its recipient is told it is back."""

from __future__ import annotations

import pytest

from bot.render.notices import gift_restored_embed
from bot.testing.limits import check_message
from payments.fake import FakeGateway
from store.effects import GiftRestored
from tests.bot.conftest import Shopfront

LONG = "x" * 5000


async def _refund_fails(shopfront: Shopfront, order_id: int, session_id: str) -> None:
    """The gateway reports, over HTTP and signed, that the order's refund failed."""
    gateway = shopfront.bot.gateway
    assert isinstance(gateway, FakeGateway)
    [refund] = gateway.session(session_id)["refunds"]
    payload = {
        "id": "evt_refund_failed",
        "type": "refund_failed",
        "created": 0,
        "data": {
            "session_id": session_id,
            "order_id": str(order_id),
            "amount": refund["amount"],
            "currency": "USD",
            "subject_id": refund["refund_id"],
        },
    }
    body, headers = gateway.render_webhook(payload)
    url = f"{shopfront.url}/webhooks/fake"
    async with shopfront.http.post(url, data=body, headers=headers) as response:
        assert response.status == 200


@pytest.mark.asyncio
async def test_the_recipient_is_told_the_gift_is_back_by_its_reference(
    shopfront: Shopfront,
) -> None:
    """Gift, take-back, back again: three DMs to bob, each naming the gift, none the order."""
    shop, guild = shopfront.bot.shop, shopfront.guild_id
    await shop.carts.add(guild, shopfront.alice.id, "points-100", recipient_id=shopfront.bob.id)
    outcome = await shopfront.bot.flow.checkout(guild, shopfront.alice.id)
    assert outcome.session is not None
    gateway = shopfront.bot.gateway
    assert isinstance(gateway, FakeGateway)
    await gateway.perform(outcome.session.session_id, "pay")
    await gateway.perform(outcome.session.session_id, "refund")
    await gateway.drain()
    await _refund_fails(shopfront, outcome.order.id, outcome.session.session_id)
    await shopfront.effects_delivered()
    embeds = shopfront.dm_embeds(shopfront.bob)
    assert [e["title"] for e in embeds] == [
        "🎁 You received a gift",
        "A gift was taken back",
        "A gift is back",
    ]
    footers = {e["footer"]["text"] for e in embeds}
    assert len(footers) == 1 and footers.pop().startswith("Gift reference G-")
    assert f"#{outcome.order.id}" not in str(embeds[2]) and "order" not in str(embeds[2])
    assert (await shop.accounts.account(guild, shopfront.bob.id)).points == 100


def test_gift_restored_fits_discord_limits() -> None:
    """Oversized text is cut, never refused by Discord."""
    embed = gift_restored_embed(GiftRestored(1, "G-ABCD1234", LONG), server=LONG)
    assert check_message({"embeds": [embed.to_dict()]}) == []
