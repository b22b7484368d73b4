"""The whole flow a member goes through, from browsing to the role, offline."""

from __future__ import annotations

import pytest

from bot.testing import FakeMember
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


async def test_browse_gift_remove_checkout_pay_and_receive(shopfront: Shopfront) -> None:
    """Browse → add time → gift points anonymously → remove a line → pay → role, DMs, account."""
    h, alice, bob = shopfront.harness, shopfront.alice, shopfront.bob
    browse = await h.slash(alice, "shop")
    item = await h.select(alice, browse, "shop:pick", ["paid-1m"])
    await h.press(alice, item, "shop:add:paid-1m")
    await h.slash(
        alice,
        "cart",
        "add",
        options={"item": "points-100", "for": bob, "anonymous": True, "note": "enjoy"},
    )
    await h.slash(alice, "cart", "add", options={"item": "paid-12m"})
    cart = await h.slash(alice, "cart", "view")
    summary = await shopfront.bot.shop.carts.view(shopfront.guild_id, alice.id)
    extra = next(line for line in summary.lines if line.sku == "paid-12m")
    await h.select(alice, cart, f"cart:remove:{alice.id}:0", [str(extra.id)])

    checkout = await h.press(alice, cart, f"cart:checkout:{alice.id}")
    [pay] = [c for row in checkout.components for c in row["components"]]
    page = await shopfront.http.get(pay["url"])
    assert page.status == 200 and "$13.00" in await page.text()
    session_id = pay["url"].rsplit("/", 1)[1]
    paid = await shopfront.http.post(
        f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay", allow_redirects=True
    )
    assert paid.status == 200
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()

    assert shopfront.paid_role in shopfront.world.member(alice.id).roles
    gift = _only_dm(shopfront, bob)
    assert "anonymous" in gift.lower() and "enjoy" in gift
    assert (
        "receipt" in _only_dm(shopfront, alice).lower()
        or "order" in _only_dm(shopfront, alice).lower()
    )
    account = await h.slash(alice, "account")
    memberships = next(f["value"] for f in account.embed["fields"] if f["name"] == "Memberships")
    assert "**Paid** — ends" in memberships
    assert (await shopfront.bot.shop.accounts.account(shopfront.guild_id, bob.id)).points == 100


def _only_dm(shopfront: Shopfront, member: FakeMember) -> str:
    messages = shopfront.world.dms(member.id)
    assert len(messages) == 1, [m.embeds for m in messages]
    message = messages[0]
    text = [message.content or ""]
    for embed in message.embeds:
        text += [embed.get("title", ""), embed.get("description", "")]
        text += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(text)
