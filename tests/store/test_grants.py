"""Moderator grants and revocations: reason required, limits, audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from store.errors import InsufficientPoints, InvalidInput, LimitExceeded, StoreError
from store.shop import Shop
from tests.store.helpers import snapshot
from tests.support import ALICE, GUILD, MOD, PAID_ROLE

pytestmark = pytest.mark.asyncio


async def test_grant_points_records_actor_and_reason(shop: Shop) -> None:
    """The ledger entry says who granted and why."""
    result = await shop.grants.grant_points(GUILD, MOD, ALICE, 250, "event winner")
    assert result.summary == "250 points granted"
    entry = (await shop.accounts.ledger(GUILD, ALICE))[0]
    assert (entry.points_delta, entry.actor_id, entry.reason, entry.memo) == (
        250,
        MOD,
        "grant",
        "event winner",
    )


async def test_grant_time_gives_the_role(shop: Shop) -> None:
    """Granted time is a membership like bought time."""
    result = await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "helper", days=30)
    assert [(e.kind, e.role_id) for e in result.effects] == [("add_role", PAID_ROLE)]  # type: ignore[attr-defined]
    assert (await shop.accounts.account(GUILD, ALICE)).memberships[0].active


async def test_revoking_all_time_ends_membership_and_removes_role(shop: Shop) -> None:
    """Revoking everything takes the role now."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "helper", months=1)
    result = await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "abuse", all_time=True)
    assert [e.kind for e in result.effects] == ["remove_role"]
    assert not (await shop.accounts.account(GUILD, ALICE)).memberships[0].active


async def test_revoking_some_days_shortens_the_membership(shop: Shop) -> None:
    """Partial revocation moves the expiry back and keeps the role."""
    await shop.grants.grant_time(GUILD, MOD, ALICE, "paid", "helper", days=30)
    result = await shop.grants.revoke_time(GUILD, MOD, ALICE, "paid", "oops", days=10)
    assert result.effects == []
    account = await shop.accounts.account(GUILD, ALICE)
    expiry = account.memberships[0].expires_at
    assert expiry is not None and (expiry - shop.ctx.now()).days == 20


Action = Callable[[Shop], Awaitable[Any]]
REFUSALS: dict[str, tuple[Action, type[StoreError], str]] = {
    "no reason": (
        lambda s: s.grants.grant_points(GUILD, MOD, ALICE, 5, "  "),
        InvalidInput,
        "reason",
    ),
    "reason too long": (
        lambda s: s.grants.grant_points(GUILD, MOD, ALICE, 5, "x" * 501),
        InvalidInput,
        "at most",
    ),
    "zero points": (
        lambda s: s.grants.grant_points(GUILD, MOD, ALICE, 0, "r"),
        InvalidInput,
        "positive",
    ),
    "over the limit": (
        lambda s: s.grants.grant_points(GUILD, MOD, ALICE, 100_001, "r"),
        LimitExceeded,
        "At most",
    ),
    "revoke below zero": (
        lambda s: s.grants.revoke_points(GUILD, MOD, ALICE, 5, "r"),
        InsufficientPoints,
        "Not enough",
    ),
    "unknown tier": (
        lambda s: s.grants.grant_time(GUILD, MOD, ALICE, "gold", "r", days=1),
        InvalidInput,
        "tier",
    ),
    "no time": (
        lambda s: s.grants.grant_time(GUILD, MOD, ALICE, "paid", "r"),
        InvalidInput,
        "positive",
    ),
    "too much time": (
        lambda s: s.grants.grant_time(GUILD, MOD, ALICE, "paid", "r", months=200),
        LimitExceeded,
        "days",
    ),
    "revoke time never granted": (
        lambda s: s.grants.revoke_time(GUILD, MOD, ALICE, "paid", "r", days=3),
        InvalidInput,
        "no paid membership",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refused_grants_change_nothing(shop: Shop, case: str) -> None:
    """Each refusal leaves no grant row, no ledger entry, no balance change."""
    action, error, message = REFUSALS[case]
    before = await snapshot(shop.ctx.db)
    with pytest.raises(error, match=message):
        await action(shop)
    assert await snapshot(shop.ctx.db) == before
