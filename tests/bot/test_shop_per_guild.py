"""Two guilds served by one process, each its own shop: its own currency and locale,
catalog, carts, orders, moderators and audit channel; nothing of one shows in the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.runtime import Storefront, build_storefront
from bot.settings import Settings
from bot.testing import DiscordHarness, FakeDiscord, FakeMember
from bot.testing.storefront import storefront_offline
from store.config import ItemConfig
from store.db.engine import Database
from store.shops import ShopProfile
from tests.bot.conftest import _free_port, make_settings, workers_settled
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

MANAGE_GUILD = 1 << 5
EURO_PACK = ItemConfig(sku="euro-pack", name="Euro-Paket", price=250, kind="points", points=100)


@dataclass
class TwoShops:
    front: Storefront
    harness: DiscordHarness
    world: FakeDiscord
    #: The same person, a member of both guilds.
    alice_here: FakeMember
    alice_there: FakeMember
    mod_here: FakeMember
    mod_there: FakeMember
    audit_here: int
    audit_there: int
    #: A third guild whose shop still follows the file, and a member who manages it.
    boss_fresh: FakeMember
    bob_fresh: FakeMember


@pytest_asyncio.fixture
async def two_shops(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[TwoShops]:
    """`database` first: it empties the shared PostgreSQL database of earlier tests'."""
    world = FakeDiscord()
    here, there = world.add_guild("Here"), world.add_guild("There")
    mods_here, mods_there = here.add_role("Mods"), there.add_role("Moderatoren")
    audit_here, audit_there = here.add_text_channel("audit"), there.add_text_channel("protokoll")
    alice_here = here.add_member("alice")
    alice_there = there.add_member(alice_here.user)
    mod_here = here.add_member("mod", roles=[mods_here.id])
    mod_there = there.add_member("mod2", roles=[mods_there.id])
    fresh = world.add_guild("Fresh")
    bosses = fresh.add_role("Bosses", permissions=MANAGE_GUILD)
    boss_fresh = fresh.add_member("boss", roles=[bosses.id])
    bob_fresh = fresh.add_member("bob")
    data = make_settings(
        database_url,
        _free_port(),
        moderator_role_ids=[mods_here.id],
        audit_channel_id=audit_here.id,
    ).model_dump(mode="python")
    data["discord"]["token"] = "offline-token"
    front = build_storefront(Settings(**data), clock=clock)

    def german(profile: ShopProfile) -> ShopProfile:
        profile.name, profile.currency, profile.locale = "Dort", "EUR", "de_DE"
        profile.items = [EURO_PACK]
        profile.moderator_role_ids = [mods_there.id]
        profile.audit_channel_id = audit_there.id
        return profile

    async with storefront_offline(front, world) as harness:
        await workers_settled(front)
        await front.shop.shops.change(there.id, german)
        yield TwoShops(
            front,
            harness,
            world,
            alice_here,
            alice_there,
            mod_here,
            mod_there,
            audit_here.id,
            audit_there.id,
            boss_fresh,
            bob_fresh,
        )


async def test_each_guild_browses_its_own_catalog_in_its_own_currency(
    two_shops: TwoShops,
) -> None:
    h = two_shops.harness
    here = await h.slash(two_shops.alice_here, "shop")
    there = await h.slash(two_shops.alice_there, "shop")
    assert "Euro-Paket" not in here.embed["description"]
    assert "$" in here.embed["description"]
    assert there.embed["title"] == "Dort"
    assert "Euro-Paket" in there.embed["description"]
    assert "2,50\xa0€" in there.embed["description"]


async def test_a_cart_in_one_guild_is_not_in_the_other(two_shops: TwoShops) -> None:
    h = two_shops.harness
    added = await h.slash(two_shops.alice_there, "cart", "add", options={"item": "euro-pack"})
    assert "Euro-Paket" in str(added.embed)
    here = await h.slash(two_shops.alice_here, "cart", "view")
    assert "Nothing here yet" in here.embed["description"]
    refused = await h.slash(two_shops.alice_here, "cart", "add", options={"item": "euro-pack"})
    assert "no item called 'euro-pack'" in refused.embed["description"]


async def test_an_order_is_made_in_its_guilds_currency(two_shops: TwoShops) -> None:
    h, front = two_shops.harness, two_shops.front
    await h.slash(two_shops.alice_there, "cart", "add", options={"item": "euro-pack"})
    await h.slash(two_shops.alice_there, "checkout")
    guild_there = two_shops.alice_there.guild_id
    [order] = await front.shop.orders.recent(guild_there, two_shops.alice_there.id, limit=5)
    assert (order.cash_due.amount, order.cash_due.currency) == (250, "EUR")
    guild_here = two_shops.alice_here.guild_id
    assert await front.shop.orders.recent(guild_here, two_shops.alice_here.id, limit=5) == []


async def test_moderators_are_each_shops_own(two_shops: TwoShops) -> None:
    """A moderator here is a plain member there, and the other way round."""
    h = two_shops.harness
    grant = {"amount": 5, "reason": "thanks"}
    here = await h.slash(
        two_shops.mod_here,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.alice_here.id, **grant},
    )
    assert "granted" in str(here.embed).lower()
    outsider = two_shops.world.guilds[two_shops.alice_there.guild_id].add_member("stranger")
    not_here = await h.slash(
        outsider,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.alice_there.id, **grant},
    )
    assert "Only the shop's moderators" in not_here.embed["description"]
    there = await h.slash(
        two_shops.mod_there,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.alice_there.id, **grant},
    )
    assert "granted" in str(there.embed).lower()


async def test_audit_posts_go_to_each_shops_own_channel(two_shops: TwoShops) -> None:
    h, world = two_shops.harness, two_shops.world
    await h.slash(
        two_shops.mod_there,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.alice_there.id, "amount": 5, "reason": "thanks"},
    )
    assert world.channel_messages(two_shops.audit_there)
    assert not world.channel_messages(two_shops.audit_here)


async def test_a_guild_following_the_file_never_posts_to_the_files_audit_channel(
    two_shops: TwoShops,
) -> None:
    """The file names a channel of the first guild; a new guild's actions stay out of it."""
    done = await two_shops.harness.slash(
        two_shops.boss_fresh,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.bob_fresh.id, "amount": 5, "reason": "welcome"},
    )
    assert "granted" in str(done.embed).lower()
    assert not two_shops.world.channel_messages(two_shops.audit_here)


async def test_points_granted_in_one_guild_are_not_in_the_other(two_shops: TwoShops) -> None:
    h = two_shops.harness
    await h.slash(
        two_shops.mod_there,
        "shopadmin",
        "points",
        "grant",
        options={"member": two_shops.alice_there.id, "amount": 50, "reason": "thanks"},
    )
    there = await h.slash(two_shops.alice_there, "account")
    here = await h.slash(two_shops.alice_here, "account")
    assert "50" in str(there.embed)
    assert "50 points" not in str(here.embed) and "50" not in str(here.embed.get("fields"))
