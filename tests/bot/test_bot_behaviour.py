"""Refunds, rejoins, errors, cooldown and restarts, through the real bot offline."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.cooldown import Cooldown
from bot.render.views import panel_view
from bot.replies import Reply
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


async def _buy_paid_month(shopfront: Shopfront) -> int:
    """Alice buys a month on the fake gateway's page; returns the order id."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    checkout = await shopfront.harness.slash(shopfront.alice, "checkout")
    [pay] = [c for row in checkout.components for c in row["components"]]
    session_id = pay["url"].rsplit("/", 1)[1]
    await shopfront.http.post(f"{shopfront.url}/fake-gateway/sessions/{session_id}/pay")
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()
    [order] = await shopfront.bot.shop.orders.recent(shopfront.guild_id, shopfront.alice.id)
    return order.id


async def test_moderator_refund_takes_back_the_role_and_tells_the_member(
    shopfront: Shopfront,
) -> None:
    """Refund through the gateway → webhook → time clawed back, role removed, member told."""
    order_id = await _buy_paid_month(shopfront)
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "refund", options={"order_id": order_id, "reason": "asked"}
    )
    assert result.embed["title"] == "Done"
    await shopfront.bot.gateway.drain()  # type: ignore[attr-defined]
    await shopfront.effects_delivered()
    assert shopfront.paid_role not in shopfront.world.member(shopfront.alice.id).roles
    order = await shopfront.bot.shop.orders.get(shopfront.guild_id, order_id)
    assert order.state == "refunded"
    assert len(shopfront.world.dms(shopfront.alice.id)) == 2  # receipt, then the refund notice
    assert any("refund" in post["fields"][2]["value"] for post in shopfront.audit_posts())


async def test_moderator_looks_up_an_order(shopfront: Shopfront) -> None:
    """/shopadmin order shows the buyer, state and lines."""
    order_id = await _buy_paid_month(shopfront)
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "order", options={"order_id": order_id}
    )
    fields = {f["name"]: f["value"] for f in result.embed["fields"]}
    assert fields["Buyer"] == f"<@{shopfront.alice.id}>" and fields["State"] == "fulfilled"


async def test_a_paying_member_who_rejoins_gets_the_role_back(shopfront: Shopfront) -> None:
    """Leave and come back: the paid role is restored."""
    await _buy_paid_month(shopfront)
    member = shopfront.world.member(shopfront.alice.id)
    member.roles.remove(shopfront.paid_role)
    await shopfront.harness.member_join(member)
    assert shopfront.paid_role in shopfront.world.member(shopfront.alice.id).roles


async def test_moderator_commands_are_hidden_from_members_by_default(shopfront: Shopfront) -> None:
    """The synced /shopadmin asks for Manage Server by default."""
    [admin] = [c for c in shopfront.bot.tree.get_commands() if c.name == "shopadmin"]
    payload = admin.to_dict(shopfront.bot.tree)
    assert (
        int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    )


async def test_cart_clear_empties_the_cart(shopfront: Shopfront) -> None:
    """/cart clear answers with an empty summary."""
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(shopfront.alice, "cart", "clear")
    assert result.embed["title"] == "Your cart"
    assert (await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.alice.id)).is_empty


async def test_panel_posted_before_a_restart_still_works(shopfront: Shopfront) -> None:
    """A panel this process never sent: its buttons still open the presser's cart."""
    message = shopfront.world.post_message(
        shopfront.world.guild.channel("general"), components=panel_view().to_components()
    )
    result = await shopfront.harness.press(shopfront.bob, message, "panel:browse")
    assert result.ephemeral and result.embed["title"] == shopfront.bot.shop.template.name


async def test_cooldown_refuses_a_burst_with_a_clear_answer(shopfront: Shopfront) -> None:
    """Past the burst, a member is told to slow down; nothing is added."""
    shopfront.bot.replies.cooldown = Cooldown(60, burst=1)
    await shopfront.harness.slash(shopfront.alice, "cart", "add", options={"item": "paid-1m"})
    result = await shopfront.harness.slash(
        shopfront.alice, "cart", "add", options={"item": "paid-1m"}
    )
    assert result.embed["description"].startswith("Slow down")
    cart = await shopfront.bot.shop.carts.view(shopfront.guild_id, shopfront.alice.id)
    assert cart.item_count == 1


async def test_unexpected_errors_answer_with_a_reference(
    shopfront: Shopfront, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing handler gives "something went wrong (ref …)" and logs the traceback."""

    @app_commands.command(name="explode", description="fails")
    async def explode(interaction: discord.Interaction[Any]) -> None:
        async def boom() -> Any:
            raise RuntimeError("kaboom")

        await shopfront.bot.replies.guard(interaction, boom)

    shopfront.bot.tree.add_command(explode)
    result = await shopfront.harness.slash(shopfront.alice, "explode")
    assert result.embed["title"] == "Something went wrong" and result.ephemeral
    reference = result.embed["description"].split("**")[1]
    assert any(reference in record.getMessage() and record.exc_info for record in caplog.records)


async def test_slow_work_is_deferred_instead_of_failing(shopfront: Shopfront) -> None:
    """Past the deadline the bot acknowledges first, then answers in a followup."""
    shopfront.bot.replies.defer_after = 0.05

    @app_commands.command(name="slow", description="takes a while")
    async def slow(interaction: discord.Interaction[Any]) -> None:
        async def work() -> Reply:
            await asyncio.sleep(0.3)
            return Reply(discord.Embed(title="Done at last"))

        await shopfront.bot.replies.guard(interaction, work)

    shopfront.bot.tree.add_command(slow)
    result = await shopfront.harness.slash(shopfront.alice, "slow")
    assert result.callback_type == 5 and result.ephemeral
    assert result.embed["title"] == "Done at last"


async def test_replies_leave_no_view_for_discord_py_to_keep(shopfront: Shopfront) -> None:
    """Every control is dispatched by pattern, so no reply's view is stored with a timer
    (discord.py would keep an ephemeral one for 15 minutes)."""
    harness, alice = shopfront.harness, shopfront.alice
    shop = await harness.slash(alice, "shop")
    await harness.slash(alice, "cart", "add", options={"item": "paid-1m"})
    await harness.slash(alice, "cart", "view")
    assert shop.components  # the replies did carry buttons and menus
    view_timers = [
        task for task in asyncio.all_tasks() if "timeout_task_impl" in repr(task.get_coro())
    ]
    assert view_timers == []


async def test_an_interaction_that_arrives_late_is_acknowledged_before_the_work(
    shopfront: Shopfront,
) -> None:
    """Queued 2 s before reaching the bot (a burst): defer at once, answer in the followup."""
    shopfront.harness.arrival_delay = 2.0
    result = await shopfront.harness.slash(shopfront.alice, "cart", "view")
    assert result.callback_type == 5 and not result.expired
    assert result.embed["title"] == "Your cart"
