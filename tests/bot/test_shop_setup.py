"""/shopadmin setup through the offline harness, both databases."""

from __future__ import annotations

import pytest

from bot.testing import FakeMember, payloads
from tests.bot.conftest import Shopfront
from tests.store.helpers import snapshot

pytestmark = pytest.mark.asyncio

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3


async def server_manager(shopfront: Shopfront) -> FakeMember:
    """A member whose role may manage the server: the only one who picks the shop's roles."""
    guild = shopfront.world.guilds[shopfront.guild_id]
    managers = guild.add_role("Managers", permissions=MANAGE_GUILD)
    await shopfront.harness.dispatch(
        "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role_payload(managers)}
    )
    dana = guild.add_member("dana", roles=[managers])
    await shopfront.harness.member_join(dana)
    return dana


async def test_without_options_it_shows_the_setup(shopfront: Shopfront) -> None:
    shown = await shopfront.harness.slash(shopfront.mod, "shopadmin", "setup")
    fields = {f["name"]: f["value"] for f in shown.embed["fields"]}
    assert fields["Currency"] == "USD" and fields["Locale"] == "en_US"
    assert fields["Audit channel"] == f"<#{shopfront.audit_channel}>"
    assert fields["Moderator roles"] == f"<@&{shopfront.mod_role}>"
    assert f"paid: <@&{shopfront.paid_role}>" in fields["Membership tiers"]


async def test_a_new_currency_and_locale_show_in_the_shop(shopfront: Shopfront) -> None:
    """EUR in de_DE: /shop writes prices the German way; the answer says the numbers
    stayed in minor units and where to check them."""
    done = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "setup", options={"currency": "EUR", "locale": "de_DE"}
    )
    assert "minor units" in done.embed["description"]
    assert "/shopadmin catalog list" in done.embed["description"]
    listing = (await shopfront.harness.slash(shopfront.alice, "shop")).embed["description"]
    assert "**Paid account, 1 month** — 3,00\xa0€" in listing
    [post] = shopfront.audit_posts()
    fields = {f["name"]: f["value"] for f in post["fields"]}
    assert "currency: USD" in fields["Before"] and "currency: EUR" in fields["After"]


async def test_a_bad_currency_is_refused_and_nothing_changes(shopfront: Shopfront) -> None:
    before = await snapshot(shopfront.bot.shop.ctx.db)
    refused = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "setup", options={"currency": "XYZ"}
    )
    assert "'XYZ' is not an ISO 4217 currency code" in refused.embed["description"]
    assert await snapshot(shopfront.bot.shop.ctx.db) == before


async def test_a_member_can_not_change_the_setup(shopfront: Shopfront) -> None:
    refused = await shopfront.harness.slash(
        shopfront.alice, "shopadmin", "setup", options={"currency": "EUR"}
    )
    assert refused.embed["description"] == "Only the shop's moderators can do that."
    assert (await shopfront.bot.shop.shops.get(shopfront.guild_id)).currency == "USD"


async def test_a_member_with_a_new_moderator_role_can_use_shopadmin(
    shopfront: Shopfront,
) -> None:
    guild = shopfront.world.guilds[shopfront.guild_id]
    helpers = guild.add_role("Shop helpers")
    await shopfront.harness.dispatch(
        "GUILD_ROLE_CREATE",
        {"guild_id": str(guild.id), "role": payloads.role_payload(helpers)},
    )
    carol = guild.add_member("carol", roles=[helpers])
    await shopfront.harness.member_join(carol)
    before = await shopfront.harness.slash(carol, "shopadmin", "catalog", "list")
    assert before.embed["description"] == "Only the shop's moderators can do that."
    manager = await server_manager(shopfront)
    await shopfront.harness.slash(
        manager, "shopadmin", "setup", options={"moderator_role": helpers}
    )
    after = await shopfront.harness.slash(carol, "shopadmin", "catalog", "list")
    assert after.embed["title"].startswith("Catalog")
    await shopfront.harness.slash(
        manager,
        "shopadmin",
        "setup",
        options={"moderator_role": helpers, "moderator_action": "remove"},
    )
    again = await shopfront.harness.slash(carol, "shopadmin", "catalog", "list")
    assert again.embed["description"] == "Only the shop's moderators can do that."


async def test_a_tier_role_is_given_by_purchases(shopfront: Shopfront) -> None:
    """The paid tier now gives the premium role: a grant of paid time adds it."""
    done = await shopfront.harness.slash(
        await server_manager(shopfront),
        "shopadmin",
        "setup",
        options={"tier": "paid", "tier_role": shopfront.world.guild.role("Premium")},
    )
    fields = {f["name"]: f["value"] for f in done.embed["fields"]}
    assert f"paid: <@&{shopfront.premium_role}>" in fields["Membership tiers"]
    await shopfront.bot.shop.grants.grant_time(
        shopfront.guild_id, shopfront.mod.id, shopfront.bob.id, "paid", "test", days=3
    )
    await shopfront.effects_delivered()
    assert shopfront.premium_role in shopfront.world.member(shopfront.bob.id).roles


async def test_a_new_tier_can_be_sold(shopfront: Shopfront) -> None:
    """A tier name not yet known creates the tier; an item can then sell it."""
    await shopfront.harness.slash(
        await server_manager(shopfront),
        "shopadmin",
        "setup",
        options={"tier": "gold", "tier_role": shopfront.world.guild.role("Premium")},
    )
    typed = await shopfront.harness.autocomplete(
        shopfront.mod, "shopadmin", "setup", focused="tier", tier="go"
    )
    assert [c["value"] for c in typed.choices or []] == ["gold"]
    form = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "catalog", "add", options={"kind": "membership"}
    )
    done = await shopfront.harness.submit_modal(
        shopfront.mod,
        form,
        {"sku": "gold-1m", "name": "Gold", "price": "9", "options": "tier = gold\nmonths = 1"},
    )
    assert done.embed["title"] == "Done"


async def test_a_moderator_who_can_not_manage_the_server_can_not_pick_roles(
    shopfront: Shopfront,
) -> None:
    """Roles decide who runs the shop and what the bot hands out: Manage Server only."""
    before = await snapshot(shopfront.bot.shop.ctx.db)
    refused = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "setup",
        options={"tier": "paid", "tier_role": shopfront.world.guild.role("Premium")},
    )
    assert "Only members who can manage this server" in refused.embed["description"]
    assert await snapshot(shopfront.bot.shop.ctx.db) == before


async def test_a_tier_role_with_moderation_powers_is_refused(shopfront: Shopfront) -> None:
    """The bot would make every buyer an administrator."""
    guild = shopfront.world.guilds[shopfront.guild_id]
    admins = guild.add_role("Admins", permissions=ADMINISTRATOR)
    await shopfront.harness.dispatch(
        "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role_payload(admins)}
    )
    manager = await server_manager(shopfront)
    before = await snapshot(shopfront.bot.shop.ctx.db)
    refused = await shopfront.harness.slash(
        manager, "shopadmin", "setup", options={"tier": "paid", "tier_role": admins}
    )
    assert "carries moderation permissions" in refused.embed["description"]
    assert await snapshot(shopfront.bot.shop.ctx.db) == before


async def test_everyone_can_not_be_a_moderator_role(shopfront: Shopfront) -> None:
    guild = shopfront.world.guilds[shopfront.guild_id]
    manager = await server_manager(shopfront)
    refused = await shopfront.harness.slash(
        manager, "shopadmin", "setup", options={"moderator_role": guild.roles[guild.id]}
    )
    assert "@everyone can't be one of the shop's roles" in refused.embed["description"]


async def test_moving_the_audit_channel_needs_manage_server_and_tells_both_channels(
    shopfront: Shopfront,
) -> None:
    guild = shopfront.world.guilds[shopfront.guild_id]
    hidden = guild.add_text_channel("quiet-corner")
    await shopfront.harness.dispatch("CHANNEL_CREATE", payloads.channel_payload(hidden))
    refused = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", "setup", options={"audit_channel": hidden}
    )
    assert "Only members who can manage this server" in refused.embed["description"]
    manager = await server_manager(shopfront)
    await shopfront.harness.slash(manager, "shopadmin", "setup", options={"audit_channel": hidden})
    assert shopfront.audit_posts(), "the old channel is told where auditing went"
    assert shopfront.world.channel_messages(hidden.id)


async def test_members_holding_a_tier_swap_to_its_new_role(shopfront: Shopfront) -> None:
    """Bob holds Paid time (the Paid role); Paid now gives Premium: he swaps, at once."""
    await shopfront.bot.shop.grants.grant_time(
        shopfront.guild_id, shopfront.mod.id, shopfront.bob.id, "paid", "test", days=3
    )
    await shopfront.effects_delivered()
    assert shopfront.paid_role in shopfront.world.member(shopfront.bob.id).roles
    await shopfront.harness.slash(
        await server_manager(shopfront),
        "shopadmin",
        "setup",
        options={"tier": "paid", "tier_role": shopfront.world.guild.role("Premium")},
    )
    await shopfront.effects_delivered()
    roles = shopfront.world.member(shopfront.bob.id).roles
    assert shopfront.premium_role in roles and shopfront.paid_role not in roles
