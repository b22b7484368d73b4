"""The grant service refuses a moderator granting to themselves unless the shop allows it."""

from __future__ import annotations

import pytest

from store.grants import SelfGrant
from store.shop import Shop
from tests.store.helpers import snapshot
from tests.support import ALICE, GUILD, MOD

pytestmark = pytest.mark.asyncio


async def test_granting_points_to_oneself_is_refused_and_changes_nothing(shop: Shop) -> None:
    """actor == member: a SelfGrant refusal, no row written."""
    before = await snapshot(shop.ctx.db)
    with pytest.raises(SelfGrant, match="can't grant points or time to themselves"):
        await shop.grants.grant_points(GUILD, MOD, MOD, 10, "me")
    assert await snapshot(shop.ctx.db) == before


async def test_granting_time_to_oneself_is_refused_and_changes_nothing(shop: Shop) -> None:
    """The same for membership time, permanent or not."""
    before = await snapshot(shop.ctx.db)
    with pytest.raises(SelfGrant):
        await shop.grants.grant_time(GUILD, MOD, MOD, "paid", "me", days=3)
    with pytest.raises(SelfGrant):
        await shop.grants.grant_time(GUILD, MOD, MOD, "paid", "me", permanent=True)
    assert await snapshot(shop.ctx.db) == before


async def test_allow_self_lets_the_grant_through(shop: Shop) -> None:
    """A shop that allows self-grants records them like any other."""
    await shop.grants.grant_points(GUILD, MOD, MOD, 10, "me", allow_self=True)
    assert (await shop.accounts.account(GUILD, MOD)).points == 10


async def test_revoking_from_oneself_needs_no_permission(shop: Shop) -> None:
    """Revocations only take away, so they are allowed for oneself."""
    await shop.grants.grant_points(GUILD, ALICE, MOD, 10, "thanks")
    await shop.grants.revoke_points(GUILD, MOD, MOD, 4, "too many")
    assert (await shop.accounts.account(GUILD, MOD)).points == 6
