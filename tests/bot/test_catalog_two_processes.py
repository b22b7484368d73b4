"""Two processes on one PostgreSQL database: a catalog change made through one is
served by the other within a second, with no restart (its "shops" worker refreshes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from nacl.signing import SigningKey

from bot.testing import FakeDiscord, FakeGuild, FakeMember
from tests.bot.http_support import WebProcess, shop_guild, web_process
from tests.support import FakeClock

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

WEEKLY = {
    "sku": "paid-1w",
    "name": "Paid account, 1 week",
    "price": "1.50",
    "options": 'tier = "paid"\ndays = 7',
}


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """Only PostgreSQL: the database several processes share."""
    return postgres_database


@dataclass
class Pair:
    guild: FakeGuild
    mod: FakeMember
    alice: FakeMember
    processes: list[WebProcess]


@pytest_asyncio.fixture
async def pair(database_url: str, clock: FakeClock) -> AsyncIterator[Pair]:
    world = FakeDiscord()
    guild = shop_guild(world)
    mod = guild.add_member("mod", roles=[guild.role("Shop moderators")])
    alice = guild.add_member("alice")
    key = SigningKey.generate()
    async with (
        web_process(database_url, world, guild, clock, key) as first,
        web_process(database_url, world, guild, clock, key) as second,
    ):
        yield Pair(guild, mod, alice, [first, second])


async def listing(process: WebProcess, member: FakeMember) -> str:
    return str((await process.harness.slash(member, "shop")).embed["description"])


async def test_an_item_added_in_one_process_is_sold_by_the_other_within_a_second(
    pair: Pair,
) -> None:
    first, second = pair.processes
    assert "Paid account, 1 week" not in await listing(second, pair.alice)  # held in memory
    form = await first.harness.slash(
        pair.mod, "shopadmin", "catalog", "add", options={"kind": "membership"}
    )
    done = await first.harness.submit_modal(pair.mod, form, WEEKLY)
    assert done.embed["title"] == "Done"
    added_at = time.monotonic()
    while "Paid account, 1 week" not in await listing(second, pair.alice):
        assert time.monotonic() - added_at < 1.0, "the other process still sells the old catalog"
        await asyncio.sleep(0.05)


async def test_a_form_opened_on_one_process_is_submitted_to_the_other(pair: Pair) -> None:
    """Behind a load balancer the submit may land anywhere: no modal state in memory."""
    first, second = pair.processes
    form = await first.harness.slash(
        pair.mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"}
    )
    done = await second.harness.submit_modal(pair.mod, form, {"price": "4.50"})
    assert done.embed["title"] == "Done" and "$4.50" in done.embed["description"]


async def test_a_price_changed_through_one_process_is_never_charged_unseen_by_the_other(
    pair: Pair,
) -> None:
    """The other process has not refreshed yet: its checkout still reads the price as
    stored, so the member is told the new price before any charge."""
    first, second = pair.processes
    await second.harness.slash(pair.alice, "cart", "add", options={"item": "paid-1m"})
    form = await first.harness.slash(
        pair.mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"}
    )
    await first.harness.submit_modal(pair.mod, form, {"price": "4.50"})
    refused = await second.harness.slash(pair.alice, "checkout")
    assert "was $3.00, now $4.50" in refused.embed["description"]


async def test_an_edit_form_older_than_another_processes_edit_saves_nothing(pair: Pair) -> None:
    first, second = pair.processes
    stale = await second.harness.slash(
        pair.mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"}
    )
    form = await first.harness.slash(
        pair.mod, "shopadmin", "catalog", "edit", options={"item": "paid-1m"}
    )
    await first.harness.submit_modal(pair.mod, form, {"price": "4.50"})
    refused = await second.harness.submit_modal(pair.mod, stale, {"price": "5.00"})
    assert "changed since this form was opened" in refused.embed["description"]
