"""Carts: add, view, remove, clear; every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, update

from store.db.schema import carts
from store.errors import CartFull, InvalidInput, NotFound, StoreError
from store.shop import Shop
from tests.store.helpers import snapshot
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock

pytestmark = pytest.mark.asyncio


async def test_empty_cart_has_no_lines_and_zero_total(shop: Shop) -> None:
    """A member who never shopped sees an empty cart."""
    cart = await shop.carts.view(GUILD, ALICE)
    assert cart.is_empty and cart.item_count == 0 and cart.total.amount == 0


async def test_add_returns_the_summary(shop: Shop) -> None:
    """Adding answers with lines, item count and total."""
    cart = await shop.carts.add(GUILD, ALICE, "paid-1m", quantity=2)
    await shop.carts.add(GUILD, ALICE, "points-100")
    cart = await shop.carts.view(GUILD, ALICE)
    assert [line.sku for line in cart.lines] == ["paid-1m", "points-100"]
    assert cart.item_count == 3
    assert cart.total.amount == 2 * 300 + 1000
    assert cart.lines[0].description == "2 months of Paid"


async def test_same_item_for_same_recipient_merges_into_one_line(shop: Shop) -> None:
    """Pressing Add twice makes quantity two, not two lines."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    cart = await shop.carts.add(GUILD, ALICE, "paid-1m")
    assert len(cart.lines) == 1 and cart.lines[0].quantity == 2


async def test_gift_line_keeps_recipient_anonymity_and_note(shop: Shop) -> None:
    """A gift records who receives it, anonymity and the note."""
    cart = await shop.carts.add(
        GUILD, ALICE, "points-100", recipient_id=BOB, anonymous=True, note=" enjoy! "
    )
    line = cart.lines[0]
    assert (line.recipient_id, line.anonymous, line.note, line.is_gift) == (
        BOB,
        True,
        "enjoy!",
        True,
    )


async def test_remove_and_clear(shop: Shop) -> None:
    """Removing a line and clearing the cart both answer with the new summary."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    cart = await shop.carts.add(GUILD, ALICE, "points-100")
    cart = await shop.carts.remove(GUILD, ALICE, cart.lines[0].id)
    assert [line.sku for line in cart.lines] == ["points-100"]
    cart = await shop.carts.clear(GUILD, ALICE)
    assert cart.is_empty


async def test_carts_are_per_shop(shop: Shop) -> None:
    """The same member has separate carts in separate guilds."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    assert (await shop.carts.view(GUILD + 1, ALICE)).is_empty


Refusal = Callable[[Shop], Awaitable[Any]]


async def _fill(shop: Shop) -> None:
    for member in range(25):
        await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=5000 + member)


REFUSALS: dict[str, tuple[Refusal, type[StoreError], str]] = {
    "unknown sku": (lambda s: s.carts.add(GUILD, ALICE, "nope"), InvalidInput, "no item called"),
    "quantity zero": (
        lambda s: s.carts.add(GUILD, ALICE, "paid-12m", quantity=0),
        InvalidInput,
        "between 1 and",
    ),
    "quantity above max": (
        lambda s: s.carts.add(GUILD, ALICE, "paid-12m", quantity=11),
        InvalidInput,
        "between 1 and",
    ),
    "note too long": (
        lambda s: s.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB, note="x" * 201),
        InvalidInput,
        "at most 200",
    ),
    "anonymous without gift": (
        lambda s: s.carts.add(GUILD, ALICE, "points-100", anonymous=True),
        InvalidInput,
        "Only gifts",
    ),
    "note without gift": (
        lambda s: s.carts.add(GUILD, ALICE, "points-100", note="hi"),
        InvalidInput,
        "note",
    ),
    "gift of non-giftable": (
        lambda s: s.carts.add(GUILD, ALICE, "trial-7d", recipient_id=BOB),
        InvalidInput,
        "can't be given",
    ),
    "someone else's line": (
        lambda s: s.carts.remove(GUILD, ALICE, 1),
        NotFound,
        "not in your cart",
    ),
    "merge above max": (
        lambda s: s.carts.add(GUILD, ALICE, "points-100", quantity=50),
        InvalidInput,
        "at most 50",
    ),
    "too many lines": (lambda s: s.carts.add(GUILD, ALICE, "paid-1m"), CartFull, "cart is full"),
    "second permanent for one recipient": (
        lambda s: s.carts.add(GUILD, BOB, "paid-forever", recipient_id=ALICE, anonymous=True),
        InvalidInput,
        "already has a permanent",
    ),
    "time for a permanent membership": (
        lambda s: s.carts.add(GUILD, ALICE, "paid-1m", recipient_id=MOD),
        InvalidInput,
        "permanent",
    ),
}


async def _prepare(shop: Shop, case: str) -> None:
    """Set the scene each refusal needs."""
    if case == "someone else's line":
        await shop.carts.add(GUILD, BOB, "paid-1m")  # line id 1 belongs to Bob
    elif case == "merge above max":
        await shop.carts.add(GUILD, ALICE, "points-100", quantity=1)
    elif case == "too many lines":
        await _fill(shop)
    elif case == "second permanent for one recipient":
        await shop.carts.add(GUILD, BOB, "paid-forever", recipient_id=ALICE)
        await shop.carts.add(GUILD, BOB, "paid-1m")
    elif case == "time for a permanent membership":
        await shop.grants.grant_time(
            GUILD, MOD, MOD, "paid", "founder", permanent=True, allow_self=True
        )
        await shop.carts.add(GUILD, ALICE, "points-100")


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refusals_change_nothing(shop: Shop, case: str) -> None:
    """Each refusal raises with a member-facing message and leaves every table as it was."""
    await _prepare(shop, case)
    action, error, message = REFUSALS[case]
    before = await snapshot(shop.ctx.db)
    with pytest.raises(error, match=message) as info:
        await action(shop)
    assert info.value.message
    assert await snapshot(shop.ctx.db) == before


async def test_permanent_line_refuses_more_time_for_same_recipient_in_cart(shop: Shop) -> None:
    """A timed line can't join a permanent line for the same member and tier."""
    await shop.carts.add(GUILD, ALICE, "paid-forever")
    with pytest.raises(InvalidInput, match="permanent"):
        await shop.carts.add(GUILD, ALICE, "paid-12m")


async def test_other_tiers_are_independent_of_a_permanent_one(shop: Shop) -> None:
    """Premium time may sit beside a permanent Paid membership."""
    await shop.carts.add(GUILD, ALICE, "paid-forever")
    cart = await shop.carts.add(GUILD, ALICE, "premium-6m")
    assert len(cart.lines) == 2


async def test_abandoned_carts_are_purged(shop: Shop, clock: FakeClock) -> None:
    """Lines in carts untouched for the configured days go away."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    clock.advance(days=31)
    await shop.carts.add(GUILD, BOB, "paid-1m")
    removed = await shop.carts.purge_abandoned(clock() - timedelta(days=30))
    assert removed == 1
    assert (await shop.carts.view(GUILD, ALICE)).is_empty
    assert not (await shop.carts.view(GUILD, BOB)).is_empty


@contextmanager
def after_statement(starts: str, action: Callable[[Connection], object]) -> Iterator[list[str]]:
    """Run `action` on the unit's own connection after each statement starting with
    `starts` (the point where a concurrent writer could commit); yields those statements."""
    seen: list[str] = []

    def listener(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(starts):
            seen.append(statement)
            action(conn)

    event.listen(Engine, "after_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(Engine, "after_cursor_execute", listener)


async def test_a_cart_touched_after_the_purge_picked_it_keeps_its_lines(
    shop: Shop, clock: FakeClock
) -> None:
    """A `/cart add` committing between the purge's pick and its delete refreshes the
    cart's updated_at: the delete sees it is no longer abandoned and leaves it alone."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    await shop.carts.add(GUILD, BOB, "paid-1m")
    clock.advance(days=31)

    def alice_adds(conn: Connection) -> None:
        conn.execute(update(carts).where(carts.c.member_id == ALICE).values(updated_at=clock()))

    with after_statement("SELECT carts.id", alice_adds) as picks:
        removed = await shop.carts.purge_abandoned(clock() - timedelta(days=30))
    assert picks, "the purge no longer picks carts with this statement"
    assert removed == 1
    assert not (await shop.carts.view(GUILD, ALICE)).is_empty
    assert (await shop.carts.view(GUILD, BOB)).is_empty


async def test_carts_the_purge_emptied_are_not_read_again(shop: Shop, clock: FakeClock) -> None:
    """An emptied cart keeps its old updated_at; the next runs skip it (no lines)."""
    for member in range(500, 507):
        await shop.carts.add(GUILD, member, "paid-1m")
    clock.advance(days=31)
    await shop.carts.purge_abandoned(clock() - timedelta(days=30), chunk=3)
    with after_statement("SELECT carts.id", lambda _conn: None) as picks:
        assert await shop.carts.purge_abandoned(clock() - timedelta(days=30), chunk=3) == 0
    assert len(picks) == 1
