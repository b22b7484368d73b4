"""What gift recipients can see never links them to the buyer's order, or to each other."""

from __future__ import annotations

import json
import re

import pytest

from bot.testing import FakeMember
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio

GIFT_REF = re.compile(r"G-[0-9A-Z]{8}")


def _seen_in_dms(shopfront: Shopfront, member: FakeMember) -> list[str]:
    """Every DM to the member, whole: content, embeds (title, fields, footer), components."""
    return [
        json.dumps([m.content, m.embeds, m.components], ensure_ascii=False)
        for m in shopfront.world.dms(member.id)
    ]


async def _seen_in_account(shopfront: Shopfront, member: FakeMember) -> str:
    """The member's own /account reply, every message of it."""
    reply = await shopfront.harness.slash(member, "account")
    return json.dumps(
        [[m.content, m.embeds, m.components] for m in reply.messages], ensure_ascii=False
    )


def _mentions_order(text: str, order_id: int) -> bool:
    return bool(re.search(rf"(?i)(#\s*{order_id}\b)|(order\W+{order_id}\b)", text))


@pytest.mark.parametrize(
    "take_back", [["refund"], ["dispute", "dispute-lost"]], ids=["refund", "chargeback"]
)
async def test_signed_and_anonymous_gifts_in_one_order_reveal_no_link(
    shopfront: Shopfront, take_back: list[str]
) -> None:
    """Gift DMs, take-back DMs and /account of both recipients: no order, no shared ref."""
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    carol = shopfront.world.guild.add_member("carol")
    await h.slash(alice, "cart", "add", options={"item": "paid-1m"})
    await h.slash(
        alice, "cart", "add", options={"item": "points-100", "for": bob, "note": "from me"}
    )
    await h.slash(
        alice,
        "cart",
        "add",
        options={"item": "paid-1m", "for": carol, "anonymous": True, "note": "guess who"},
    )
    cart = await h.slash(alice, "cart", "view")
    checkout = await h.press(alice, cart, f"cart:checkout:{alice.id}")
    [pay] = [c for row in checkout.components for c in row["components"]]
    session_id = pay["url"].rsplit("/", 1)[1]
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, alice.id)
    await _act(shopfront, session_id, "pay")
    receipt = " ".join(_seen_in_dms(shopfront, alice))
    assert _mentions_order(receipt, order.id)  # the buyer's own receipt names the order

    for action in take_back:
        await _act(shopfront, session_id, action)
    seen = {
        member.id: [*_seen_in_dms(shopfront, member), await _seen_in_account(shopfront, member)]
        for member in (bob, carol)
    }

    bob_text, carol_text = (" ".join(seen[m.id]) for m in (bob, carol))
    assert len(seen[bob.id]) == len(seen[carol.id]) == 3  # gift, taken back, /account
    assert "from me" in bob_text and "bob" not in carol_text
    assert "guess who" in carol_text and "anonymous" in carol_text
    assert "taken back" in bob_text and "taken back" in carol_text
    for text in (bob_text, carol_text):
        assert not _mentions_order(text, order.id)
        assert order.id not in (int(n) for n in re.findall(r"#(\d+)", text))
    bob_refs, carol_refs = set(GIFT_REF.findall(bob_text)), set(GIFT_REF.findall(carol_text))
    assert len(bob_refs) == len(carol_refs) == 1 and not bob_refs & carol_refs
    assert not (bob_refs | carol_refs) & set(GIFT_REF.findall(receipt))
    assert "alice" not in carol_text and str(alice.id) not in carol_text
    assert "alice" in bob_text  # the signed gift names its giver


async def _act(shopfront: Shopfront, session_id: str, action: str) -> None:
    """Press a button of the fake gateway's page over HTTP, then deliver what follows."""
    response = await shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/{action}",
        headers={"Accept": "application/json"},
    )
    assert response.status == 200, await response.text()
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()
