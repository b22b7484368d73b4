"""/shopadmin: moderators act and are audited; members are refused."""

from __future__ import annotations

import pytest

from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


async def test_moderator_grant_is_applied_and_audited(shopfront: Shopfront) -> None:
    """Points granted, the moderator told, the audit channel says who, what, whom, why."""
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "points",
        "grant",
        options={"member": shopfront.alice, "amount": 250, "reason": "contest winner"},
    )
    assert result.embed["title"] == "Done" and result.ephemeral
    assert (
        await shopfront.bot.shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    ).points == 250
    [post] = shopfront.audit_posts()
    values = {f["name"]: f["value"] for f in post["fields"]}
    assert values == {
        "Who": f"<@{shopfront.mod.id}>",
        "Whom": f"<@{shopfront.alice.id}>",
        "What": "250 points granted",
        "Why": "contest winner",
    }


async def test_time_grant_gives_the_role(shopfront: Shopfront) -> None:
    """Granted time adds the tier's role through the effects outbox."""
    await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "time",
        "grant",
        options={"member": shopfront.bob, "tier": "paid", "reason": "helper", "days": 30},
    )
    await shopfront.effects_delivered()
    assert shopfront.paid_role in shopfront.world.member(shopfront.bob.id).roles


@pytest.mark.parametrize(
    ("path", "options"),
    [
        (("points", "grant"), {"amount": 5, "reason": "me"}),
        (("points", "revoke"), {"amount": 5, "reason": "me"}),
        (("time", "grant"), {"tier": "paid", "reason": "me", "days": 1}),
        (("time", "revoke"), {"tier": "paid", "reason": "me", "everything": True}),
        (("account",), {}),
        (("order",), {"order_id": 1}),
        (("refund",), {"order_id": 1, "reason": "me"}),
        (("review",), {}),
        (("resolve",), {"order_id": 1, "action": "refund", "reason": "me"}),
        (("panel",), {}),
    ],
)
async def test_members_are_refused_every_moderator_command(
    shopfront: Shopfront, path: tuple[str, ...], options: dict[str, object]
) -> None:
    """Even when the payload reaches the bot, a member without the role is refused."""
    if path[0] in {"points", "time", "account"}:
        options = {"member": shopfront.alice, **options}
    result = await shopfront.harness.slash(shopfront.alice, "shopadmin", *path, options=options)
    assert result.embed["description"] == "Only the shop's moderators can do that."
    assert shopfront.audit_posts() == []
    assert (
        await shopfront.bot.shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    ).points == 0


async def test_panel_buttons_act_on_the_presser(shopfront: Shopfront) -> None:
    """A public panel; Bob's press opens Bob's cart, privately."""
    await shopfront.harness.slash(shopfront.mod, "shopadmin", "panel")
    [panel] = [
        m
        for m in shopfront.world.channel_messages(shopfront.world.guild.channel("general").id)
        if not m.ephemeral
    ]
    await shopfront.harness.slash(shopfront.bob, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.press(shopfront.bob, panel, "panel:cart")
    assert result.ephemeral and result.embed["title"] == "Your cart"
    assert "Paid account, 1 month" in result.embed["fields"][0]["name"]


async def test_moderator_views_an_account_and_ledger(shopfront: Shopfront) -> None:
    """The ledger shows who granted what and why."""
    await shopfront.bot.shop.grants.grant_points(
        shopfront.guild_id, shopfront.mod.id, shopfront.alice.id, 30, "bug bounty"
    )
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "account", options={"member": shopfront.alice}
    )
    ledger = next(f["value"] for f in result.embed["fields"] if f["name"] == "Ledger")
    assert f"by <@{shopfront.mod.id}>" in ledger and "bug bounty" in ledger
