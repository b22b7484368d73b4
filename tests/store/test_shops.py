"""A shop per guild: created from the file on first use, following the file until a
moderator changes it, then its own; every process sees a change after a refresh."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from store.config import ItemConfig, TierConfig
from store.db.engine import Database, create_engine
from store.errors import InvalidInput
from store.shop import Shop
from store.shops import ShopProfile
from tests.store.helpers import snapshot
from tests.support import ALICE, GUILD, MOD, FakeClock, sample_store, sample_tiers

pytestmark = pytest.mark.asyncio

OTHER_GUILD = 900_000_000_000_000_002

EURO_PACK = ItemConfig(sku="euro-pack", name="Euro pack", price=250, kind="points", points=100)


def euro_shop(profile: ShopProfile) -> ShopProfile:
    """Guild two's shop as its moderators set it up: euros, German, one item."""
    profile.currency, profile.locale, profile.name = "EUR", "de_DE", "Zweiter Laden"
    profile.items = [EURO_PACK]
    return profile


@pytest_asyncio.fixture
async def other_process(
    database_url: str, database: Database, clock: FakeClock
) -> AsyncIterator[Shop]:
    """A second process on the same database (its own engine and memory)."""
    db = Database(create_engine(database_url))
    yield Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    await db.dispose()


async def test_a_guilds_shop_starts_as_the_files_shop(shop: Shop) -> None:
    found = await shop.shops.get(GUILD)
    assert found.name == shop.template.name
    assert [i.sku for i in found.catalog] == [i.sku for i in shop.template.catalog]


async def test_a_shop_never_changed_from_discord_follows_the_file(
    shop: Shop, database: Database, clock: FakeClock
) -> None:
    """Edit the file and restart: the guild's shop is the edited file, as before shops."""
    await shop.shops.get(GUILD)
    renamed = Shop.build(database, sample_store(name="Renamed"), sample_tiers(), clock=clock)
    assert (await renamed.shops.get(GUILD)).name == "Renamed"


async def test_a_shop_changed_from_discord_keeps_its_change_over_a_new_file(
    shop: Shop, database: Database, clock: FakeClock
) -> None:
    await shop.shops.change(OTHER_GUILD, euro_shop)
    restarted = Shop.build(database, sample_store(name="Renamed"), sample_tiers(), clock=clock)
    found = await restarted.shops.get(OTHER_GUILD)
    assert (found.name, found.currency) == ("Zweiter Laden", "EUR")


async def test_a_change_to_one_guild_leaves_the_other_as_it_was(shop: Shop) -> None:
    before, after = await shop.shops.change(OTHER_GUILD, euro_shop)
    assert (before.currency, after.currency) == ("USD", "EUR")
    assert (await shop.shops.get(GUILD)).currency == "USD"
    assert [i.sku for i in (await shop.shops.get(OTHER_GUILD)).catalog] == ["euro-pack"]


async def test_another_process_serves_a_change_after_its_refresh(
    shop: Shop, other_process: Shop
) -> None:
    assert (await other_process.shops.get(OTHER_GUILD)).currency == "USD"
    await shop.shops.change(OTHER_GUILD, euro_shop)
    assert await other_process.shops.refresh() == [OTHER_GUILD]
    assert (await other_process.shops.get(OTHER_GUILD)).currency == "EUR"
    assert await other_process.shops.refresh() == []


async def test_a_change_that_would_not_load_is_refused_and_nothing_is_stored(
    shop: Shop,
) -> None:
    def unknown_tier(profile: ShopProfile) -> ShopProfile:
        profile.items = [
            ItemConfig(sku="gold", name="Gold", price=100, kind="membership", tier="gold", days=1)
        ]
        return profile

    await shop.shops.get(GUILD)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="not a configured membership tier"):
        await shop.shops.change(GUILD, unknown_tier)
    assert await snapshot(shop.ctx.db) == before
    assert (await shop.shops.get(GUILD)).version == 1


async def test_a_bad_locale_is_refused(shop: Shop) -> None:
    def klingon(profile: ShopProfile) -> ShopProfile:
        profile.locale = "xx_YY"
        return profile

    with pytest.raises(InvalidInput, match="not a locale"):
        await shop.shops.change(GUILD, klingon)


async def test_two_changes_at_once_from_two_processes_both_land(
    shop: Shop, other_process: Shop
) -> None:
    def add(sku: str):  # type: ignore[no-untyped-def]
        def edit(profile: ShopProfile) -> ShopProfile:
            profile.items = [*profile.items, EURO_PACK.model_copy(update={"sku": sku})]
            return profile

        return edit

    await asyncio.gather(
        shop.shops.change(GUILD, add("one")), other_process.shops.change(GUILD, add("two"))
    )
    await shop.shops.refresh()
    skus = {i.sku for i in (await shop.shops.get(GUILD)).catalog}
    assert {"one", "two"} <= skus
    assert (await shop.shops.get(GUILD)).version == 3


async def test_carts_and_orders_of_two_guilds_use_each_ones_catalog_and_currency(
    shop: Shop,
) -> None:
    await shop.shops.change(OTHER_GUILD, euro_shop)
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    there = await shop.carts.add(OTHER_GUILD, ALICE, "euro-pack")
    assert [line.sku for line in there.lines] == ["euro-pack"]
    assert there.total.currency == "EUR"
    with pytest.raises(InvalidInput, match="no item called 'euro-pack'"):
        await shop.carts.add(GUILD, ALICE, "euro-pack")
    with pytest.raises(InvalidInput, match="no item called 'paid-1m'"):
        await shop.carts.add(OTHER_GUILD, ALICE, "paid-1m")
    order = (await shop.orders.checkout(OTHER_GUILD, ALICE)).order
    assert (order.cash_due.amount, order.cash_due.currency) == (250, "EUR")
    here = await shop.carts.view(GUILD, ALICE)
    assert [line.sku for line in here.lines] == ["paid-1m"]
    assert here.total.currency == "USD"
    assert await shop.orders.recent(GUILD, ALICE, limit=5) == []


GOLD_ROLE = 800_000_000_000_000_077


def gold_tier(profile: ShopProfile) -> ShopProfile:
    """Guild two's own tier, with its own role and reminder days."""
    profile.tiers = {**profile.tiers, "gold": TierConfig(role_id=GOLD_ROLE, reminder_days=[2])}
    return profile


async def test_grants_reminders_and_expiry_follow_each_guilds_own_tiers(
    shop: Shop, clock: FakeClock
) -> None:
    await shop.shops.change(OTHER_GUILD, gold_tier)
    with pytest.raises(InvalidInput, match="no membership tier called 'gold'"):
        await shop.grants.grant_time(GUILD, MOD, ALICE, "gold", "r", days=3)
    await shop.grants.grant_time(OTHER_GUILD, MOD, ALICE, "gold", "r", days=3)
    clock.advance(days=1, seconds=1)
    [reminder] = await shop.memberships.claim_reminders()
    assert (reminder.tier, reminder.days) == ("gold", 2)
    clock.advance(days=2)
    [removed] = await shop.memberships.claim_expired()
    assert (removed.member_id, removed.role_id) == (ALICE, GOLD_ROLE)
    assert [e.role_id for e in await shop.memberships.roles_due(OTHER_GUILD)] == []
