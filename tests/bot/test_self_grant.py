"""Moderators granting to themselves: refused unless `discord.moderators_may_grant_self`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from store.db.engine import Database
from tests.bot.conftest import Shopfront
from tests.reliability.conftest import build_shopfront
from tests.store.helpers import snapshot
from tests.support import FakeClock

pytestmark = pytest.mark.asyncio

WHY = (
    "Moderators can't grant points or time to themselves in this shop: ask another "
    "moderator, so every grant has a second pair of eyes."
)


def _may_grant_self(data: dict[str, Any]) -> None:
    data["discord"]["moderators_may_grant_self"] = True


@pytest_asyncio.fixture
async def lenient(
    database: Database, database_url: str, clock: FakeClock
) -> AsyncIterator[Shopfront]:
    """A shop whose configuration lets moderators grant to themselves."""
    async with build_shopfront(database_url, clock, _may_grant_self) as shopfront:
        yield shopfront


GRANTS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("points", "grant"), {"amount": 500, "reason": "for me"}),
    (("time", "grant"), {"tier": "paid", "reason": "for me", "days": 30}),
    (("time", "grant"), {"tier": "premium", "reason": "for me", "permanent": True}),
]


@pytest.mark.parametrize(("path", "options"), GRANTS)
async def test_a_moderator_granting_to_themselves_is_refused_with_the_reason(
    shopfront: Shopfront, path: tuple[str, ...], options: dict[str, Any]
) -> None:
    """By default the grant is refused, says why, and nothing is recorded or posted."""
    before = await snapshot(shopfront.bot.database)
    result = await shopfront.harness.slash(
        shopfront.mod, "shopadmin", *path, options={"member": shopfront.mod, **options}
    )
    assert result.ephemeral
    assert result.embed["title"] == "Can't do that"
    assert result.embed["description"] == WHY
    assert await snapshot(shopfront.bot.database) == before
    assert shopfront.audit_posts() == []


async def test_a_moderator_still_grants_to_other_members(shopfront: Shopfront) -> None:
    """The rule is about oneself: a grant to alice goes through as before."""
    await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "points",
        "grant",
        options={"member": shopfront.alice, "amount": 40, "reason": "bug report"},
    )
    account = await shopfront.bot.shop.accounts.account(shopfront.guild_id, shopfront.alice.id)
    assert account.points == 40


async def test_revoking_from_oneself_is_allowed(shopfront: Shopfront) -> None:
    """Taking away enriches nobody: a moderator may correct their own balance."""
    await shopfront.bot.shop.grants.grant_points(
        shopfront.guild_id, shopfront.alice.id, shopfront.mod.id, 100, "thanks"
    )
    result = await shopfront.harness.slash(
        shopfront.mod,
        "shopadmin",
        "points",
        "revoke",
        options={"member": shopfront.mod, "amount": 30, "reason": "granted too much"},
    )
    assert result.embed["title"] != "Can't do that"
    account = await shopfront.bot.shop.accounts.account(shopfront.guild_id, shopfront.mod.id)
    assert account.points == 70


@pytest.mark.parametrize(("path", "options"), GRANTS)
async def test_the_setting_lets_a_moderator_grant_to_themselves(
    lenient: Shopfront, path: tuple[str, ...], options: dict[str, Any]
) -> None:
    """With moderators_may_grant_self = true the grant is made and audited."""
    result = await lenient.harness.slash(
        lenient.mod, "shopadmin", *path, options={"member": lenient.mod, **options}
    )
    assert result.embed["title"] != "Can't do that"
    account = await lenient.bot.shop.accounts.account(lenient.guild_id, lenient.mod.id)
    assert account.points == 500 or [m.tier for m in account.memberships] == [options.get("tier")]
    assert len(lenient.audit_posts()) == 1
