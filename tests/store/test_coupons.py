"""Coupons: moderators' codes, what they take off, and their uses on both databases."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from store import coupons as uses
from store.coupons import (
    Coupon,
    Coupons,
    CouponSpec,
    discount,
    line_discounts,
    normalize_code,
    problem,
    spread,
)
from store.db.engine import Conn, Database, create_engine
from store.errors import InvalidInput
from store.shop import Shop
from tests.store.helpers import snapshot
from tests.support import ALICE, BOB, GUILD, MOD, FakeClock

OTHER_GUILD = GUILD + 1
NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
_orders = itertools.count(1)


def spec(**fields: Any) -> CouponSpec:
    return CouponSpec.of({"code": "summer20", "kind": "percent", "amount": 20, **fields})


def coupon(**fields: Any) -> Coupon:
    """A stored-looking coupon for the pure functions: 20% off everything, in USD."""
    base = Coupon(
        id=1,
        shop_id=GUILD,
        code="SUMMER20",
        kind="percent",
        amount=20,
        currency="USD",
        min_order=0,
        skus=(),
        max_uses=None,
        per_member_limit=None,
        uses=0,
        expires_at=None,
        retired_at=None,
        created_by=MOD,
        created_at=NOW - timedelta(days=1),
    )
    return replace(base, **fields)


def check(c: Coupon, **overrides: Any) -> str | None:
    """problem() for an ordinary $10.00 cart of two paid-1m, unless told otherwise."""
    args: dict[str, Any] = {
        "now": NOW,
        "subtotal": 1000,
        "currency": "USD",
        "member_uses": 0,
        "lines": [("paid-1m", 500, 2)],
    }
    return problem(c, **(args | overrides))


@pytest.fixture
def service(shop: Shop) -> Coupons:
    return Coupons(shop.ctx)


# -- creating, listing, retiring ------------------------------------------------------


@pytest.mark.asyncio
async def test_a_created_coupon_is_found_by_its_code_in_any_case(service: Coupons) -> None:
    """Created as "summer20", found as " Summer20 ", stored upper-case in the shop currency."""
    made = await service.create(GUILD, spec(max_uses=100), by=MOD, currency="usd")
    found = await service.find(GUILD, " Summer20 ")
    assert found == made
    assert (made.code, made.currency, made.uses, made.created_by) == ("SUMMER20", "USD", 0, MOD)


@pytest.mark.asyncio
async def test_a_code_is_per_shop(service: Coupons) -> None:
    """Another guild neither sees the coupon nor is kept from using the same code."""
    await service.create(GUILD, spec(), by=MOD, currency="USD")
    assert await service.find(OTHER_GUILD, "SUMMER20") is None
    assert await service.list(OTHER_GUILD) == []
    other = await service.create(OTHER_GUILD, spec(amount=5), by=MOD, currency="EUR")
    assert (await service.find(GUILD, "SUMMER20")) != other


@pytest.mark.asyncio
async def test_a_duplicate_code_is_refused_and_nothing_changes(service: Coupons) -> None:
    await service.create(GUILD, spec(), by=MOD, currency="USD")
    before = await snapshot(service.ctx.db)
    with pytest.raises(InvalidInput, match="already has a coupon SUMMER20"):
        await service.create(GUILD, spec(amount=50), by=MOD, currency="USD")
    assert await snapshot(service.ctx.db) == before


@pytest.mark.asyncio
async def test_a_retired_code_cannot_be_used_for_a_new_coupon(service: Coupons) -> None:
    await service.create(GUILD, spec(), by=MOD, currency="USD")
    await service.retire(GUILD, "summer20", by=MOD)
    with pytest.raises(InvalidInput, match=r"SUMMER20 belonged to a coupon retired on.*reused"):
        await service.create(GUILD, spec(), by=MOD, currency="USD")


@pytest.mark.asyncio
async def test_an_expiry_already_past_is_refused_and_nothing_stored(
    service: Coupons, clock: FakeClock
) -> None:
    before = await snapshot(service.ctx.db)
    with pytest.raises(InvalidInput, match="has already passed"):
        await service.create(GUILD, spec(expires_at=clock.now), by=MOD, currency="USD")
    assert await snapshot(service.ctx.db) == before


@pytest.mark.asyncio
async def test_a_coupon_for_an_item_the_shop_lacks_is_refused(service: Coupons) -> None:
    with pytest.raises(InvalidInput, match="no item gold-1m"):
        await service.create(
            GUILD, spec(skus=["gold-1m"]), by=MOD, currency="USD", known_skus={"paid-1m"}
        )
    assert await service.list(GUILD) == []


@pytest.mark.asyncio
async def test_a_coupon_naming_a_subscription_is_refused(service: Coupons) -> None:
    """It would discount every renewal: refused, naming the item, and nothing stored."""
    with pytest.raises(InvalidInput, match="Gold monthly renew"):
        await service.create(
            GUILD,
            spec(skus=["gold-sub"]),
            by=MOD,
            currency="USD",
            renewing={"gold-sub": "Gold monthly"},
        )
    assert await service.list(GUILD) == []


@pytest.mark.asyncio
async def test_retiring_marks_the_coupon_and_is_idempotent(
    service: Coupons, clock: FakeClock
) -> None:
    """Retired once at noon; a second retire an hour later keeps the first time."""
    await service.create(GUILD, spec(), by=MOD, currency="USD")
    first = await service.retire(GUILD, "SUMMER20", by=MOD)
    clock.advance(hours=1)
    second = await service.retire(GUILD, "SUMMER20", by=MOD)
    assert first.retired_at == second.retired_at == clock.now - timedelta(hours=1)


@pytest.mark.asyncio
async def test_retiring_an_unknown_code_is_refused(service: Coupons) -> None:
    with pytest.raises(InvalidInput, match="no coupon NOPE"):
        await service.retire(GUILD, "nope", by=MOD)


@pytest.mark.asyncio
async def test_the_list_leaves_retired_coupons_out_when_asked(service: Coupons) -> None:
    await service.create(GUILD, spec(code="OLD"), by=MOD, currency="USD")
    await service.create(GUILD, spec(code="NEW"), by=MOD, currency="USD")
    await service.retire(GUILD, "OLD", by=MOD)
    assert [c.code for c in await service.list(GUILD)] == ["OLD", "NEW"]
    assert [c.code for c in await service.list(GUILD, include_retired=False)] == ["NEW"]


# -- input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("summer20", "SUMMER20"),
        ("  vip_2026-x ", "VIP_2026-X"),
        ("abc", "ABC"),
        ("A" * 32, "A" * 32),
    ],
)
def test_codes_are_stripped_and_upper_cased(text: str, code: str) -> None:
    assert normalize_code(text) == code


@pytest.mark.parametrize("text", ["ab", "", "A" * 33, "20% OFF", "café", "a.b.c"])
def test_malformed_codes_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="3 to 32 characters"):
        normalize_code(text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": 0}, "amount: a percent coupon takes 1 to 100 percent off|1 to 100"),
        ({"amount": 101}, "1 to 100 percent"),
        ({"kind": "fixed", "amount": 0}, "a fixed coupon takes a positive amount off"),
        ({"kind": "half"}, "kind: "),
        ({"code": "x"}, "code: A coupon code is 3 to 32 characters"),
        ({"min_order": -1}, "min_order: "),
        ({"max_uses": 0}, "max_uses: "),
        ({"per_member_limit": 0}, "per_member_limit: "),
        ({"skus": ["Not A Sku"]}, "'Not A Sku' is not an item SKU"),
        ({"skus": "paid-1m"}, "must be a list of item SKUs"),
        ({"expires_at": datetime(2027, 1, 1)}, "expires_at: "),
        ({"colour": "red"}, "colour: "),
    ],
)
def test_bad_specs_are_refused_with_a_message_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        spec(**fields)


def test_a_spec_keeps_each_sku_once() -> None:
    assert spec(skus=["gold-1m", " gold-1m", "paid-1m"]).skus == ("gold-1m", "paid-1m")


# -- what a coupon takes off ----------------------------------------------------------


def test_a_percent_coupon_rounds_down() -> None:
    """15% of $3.33 is 49.95 cents: 49 off."""
    assert discount(coupon(amount=15), [("paid-1m", 333, 1)], "USD") == 49


def test_a_percent_coupon_applies_only_to_its_items() -> None:
    """50% off gold-1m: half of the 2 × $4.00 gold, nothing off the $10.00 paid-1m."""
    c = coupon(amount=50, skus=("gold-1m",))
    assert discount(c, [("paid-1m", 1000, 1), ("gold-1m", 400, 2)], "USD") == 400


def test_a_fixed_coupon_never_takes_off_more_than_it_applies_to() -> None:
    c = coupon(kind="fixed", amount=500, skus=("gold-1m",))
    assert discount(c, [("gold-1m", 300, 1), ("paid-1m", 5000, 1)], "USD") == 300
    assert discount(c, [("gold-1m", 300, 3)], "USD") == 500


@pytest.mark.parametrize(
    ("c", "lines", "currency"),
    [
        (coupon(skus=("gold-1m",)), [("paid-1m", 500, 1)], "USD"),
        (coupon(kind="fixed", amount=100), [("paid-1m", 500, 1)], "EUR"),
        (coupon(), [], "USD"),
    ],
)
def test_nothing_is_taken_off_when_nothing_applies(
    c: Coupon, lines: list[tuple[str, int, int]], currency: str
) -> None:
    assert discount(c, lines, currency) == 0


def test_a_discount_is_spread_over_the_lines_it_applies_to_only() -> None:
    c = coupon(kind="fixed", amount=100, skus=("gold-1m", "gold-12m"))
    lines = [("paid-1m", 999, 1), ("gold-1m", 100, 1), ("gold-12m", 200, 1)]
    assert line_discounts(c, lines, "USD") == [0, 33, 67]


@pytest.mark.parametrize(
    ("amount", "totals", "shares"),
    [
        (100, [100, 100, 100], [34, 33, 33]),
        (10, [1, 1, 98], [0, 0, 10]),
        (300, [100, 200], [100, 200]),
        (0, [5, 5], [0, 0]),
        (7, [0, 10, 0], [0, 7, 0]),
    ],
)
def test_spread_examples(amount: int, totals: list[int], shares: list[int]) -> None:
    assert spread(amount, totals) == shares


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).flatmap(
        lambda totals: st.tuples(st.just(totals), st.integers(0, sum(totals)))
    )
)
def test_spread_adds_up_exactly_and_never_exceeds_a_line(case: tuple[list[int], int]) -> None:
    totals, amount = case
    shares = spread(amount, totals)
    assert sum(shares) == amount
    assert all(0 <= share <= total for share, total in zip(shares, totals, strict=True))
    exact = [amount * total / max(sum(totals), 1) for total in totals]
    assert all(abs(share - want) < 1 for share, want in zip(shares, exact, strict=True))


def test_spreading_more_than_the_lines_total_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot spread 11"):
        spread(11, [5, 5])


# -- whether it applies ---------------------------------------------------------------


def test_a_valid_coupon_has_no_problem() -> None:
    assert check(coupon(max_uses=10, uses=9, per_member_limit=2), member_uses=1) is None


def test_a_percentage_outlives_a_change_of_the_shops_currency() -> None:
    """20% is 20% in euros too; only amounts written in the old currency stop."""
    assert check(coupon(), currency="EUR") is None


@pytest.mark.parametrize(
    ("c", "overrides", "message"),
    [
        (coupon(retired_at=NOW), {}, "The code SUMMER20 is no longer valid."),
        (coupon(expires_at=NOW), {}, "The code SUMMER20 expired on 2026-01-31."),
        (
            coupon(kind="fixed", amount=500),
            {"currency": "EUR"},
            "The code SUMMER20 is no longer valid.",
        ),
        (
            coupon(amount=1),
            {"lines": [("paid-1m", 50, 1)], "subtotal": 50},
            "The code SUMMER20 takes nothing off this cart.",
        ),
        (coupon(max_uses=3, uses=3), {}, "The code SUMMER20 has been used up."),
        (
            coupon(per_member_limit=1),
            {"member_uses": 1},
            "You have already used the code SUMMER20; it is good once per member.",
        ),
        (
            coupon(per_member_limit=2),
            {"member_uses": 2},
            "You have already used the code SUMMER20 2 times, as many as it allows per member.",
        ),
        (
            coupon(min_order=2000),
            {},
            "The code SUMMER20 needs an order of at least $20.00; yours comes to $10.00.",
        ),
        (
            coupon(skus=("gold-1m", "gold-12m")),
            {"names": {"gold-1m": "Gold month"}},
            "The code SUMMER20 applies only to Gold month or gold-12m, and your cart has none.",
        ),
    ],
)
def test_each_problem_is_told_to_the_member(
    c: Coupon, overrides: dict[str, Any], message: str
) -> None:
    assert check(c, **overrides) == message


def test_the_description_says_everything_a_moderator_set() -> None:
    c = coupon(
        kind="fixed",
        amount=500,
        min_order=2000,
        skus=("gold-1m",),
        max_uses=100,
        uses=3,
        per_member_limit=1,
        expires_at=datetime(2026, 12, 31, tzinfo=UTC),
    )
    assert c.describe("en_US", {"gold-1m": "Gold month"}) == (
        "$5.00 off orders of $20.00 or more · on Gold month only · once per member"
        " · 3 of 100 used · expires 2026-12-31"
    )


def test_a_percent_description_is_short() -> None:
    assert coupon().describe() == "20% off · 0 used"


# -- uses, inside a checkout's or a lapse's unit of work ------------------------------


async def _hold(db: Database, c: Coupon, member: int = ALICE, order_id: int | None = None) -> int:
    order = next(_orders) if order_id is None else order_id

    async def work(conn: Conn) -> None:
        await uses.hold(conn, c, order_id=order, member_id=member, discount=100, now=NOW)

    await db.write(work)
    return order


async def _uses(service: Coupons) -> int:
    found = await service.find(GUILD, "SUMMER20")
    assert found is not None
    return found.uses


async def _member_uses(db: Database, c: Coupon, member: int) -> int:
    return await db.read(lambda conn: uses.member_uses(conn, c.id, member))


@pytest.mark.asyncio
async def test_holding_counts_a_use_for_the_coupon_and_the_member(service: Coupons) -> None:
    c = await service.create(GUILD, spec(), by=MOD, currency="USD")
    await _hold(service.ctx.db, c)
    await _hold(service.ctx.db, c)
    assert await _uses(service) == 2
    assert await _member_uses(service.ctx.db, c, ALICE) == 2
    assert await _member_uses(service.ctx.db, c, BOB) == 0


@pytest.mark.asyncio
async def test_a_used_up_coupon_refuses_a_hold_and_nothing_changes(service: Coupons) -> None:
    c = await service.create(GUILD, spec(max_uses=1), by=MOD, currency="USD")
    await _hold(service.ctx.db, c)
    before = await snapshot(service.ctx.db)
    with pytest.raises(InvalidInput, match="SUMMER20 has been used up"):
        await _hold(service.ctx.db, c, member=BOB)
    assert await snapshot(service.ctx.db) == before


@pytest.mark.asyncio
async def test_a_coupon_retired_since_it_was_read_refuses_a_hold(service: Coupons) -> None:
    c = await service.create(GUILD, spec(), by=MOD, currency="USD")
    await service.retire(GUILD, "SUMMER20", by=MOD)
    with pytest.raises(InvalidInput, match="SUMMER20 is no longer valid"):
        await _hold(service.ctx.db, c)
    assert await _uses(service) == 0


@pytest.mark.asyncio
async def test_the_per_member_limit_is_kept_by_hold(service: Coupons) -> None:
    c = await service.create(GUILD, spec(per_member_limit=1), by=MOD, currency="USD")
    await _hold(service.ctx.db, c)
    with pytest.raises(InvalidInput, match="already used the code SUMMER20"):
        await _hold(service.ctx.db, c)
    await _hold(service.ctx.db, c, member=BOB)
    assert await _uses(service) == 2


@pytest.mark.asyncio
async def test_release_gives_one_use_back_once(service: Coupons) -> None:
    c = await service.create(GUILD, spec(max_uses=1), by=MOD, currency="USD")
    order = await _hold(service.ctx.db, c)
    db = service.ctx.db
    assert await db.write(lambda conn: uses.release(conn, order, NOW)) is True
    assert await db.write(lambda conn: uses.release(conn, order, NOW)) is False
    assert (await _uses(service), await _member_uses(db, c, ALICE)) == (0, 0)
    await _hold(db, c, member=BOB)


@pytest.mark.asyncio
async def test_releasing_an_order_without_a_coupon_changes_nothing(service: Coupons) -> None:
    before = await snapshot(service.ctx.db)
    assert await service.ctx.db.write(lambda conn: uses.release(conn, 424242, NOW)) is False
    assert await snapshot(service.ctx.db) == before


@pytest.mark.asyncio
async def test_a_lapsed_order_paid_after_all_takes_its_use_again_past_the_limit(
    service: Coupons,
) -> None:
    """Alice's order lapsed and Bob took the last use; Alice pays after all: 2 of 1."""
    c = await service.create(GUILD, spec(max_uses=1), by=MOD, currency="USD")
    db = service.ctx.db
    order = await _hold(db, c)
    await db.write(lambda conn: uses.release(conn, order, NOW))
    await _hold(db, c, member=BOB)
    assert await db.write(lambda conn: uses.take_again(conn, order, NOW)) is True
    assert await db.write(lambda conn: uses.take_again(conn, order, NOW)) is False
    assert (await _uses(service), await _member_uses(db, c, ALICE)) == (2, 1)


@pytest_asyncio.fixture
async def other_process(database_url: str, database: Database) -> AsyncIterator[Database]:
    db = Database(create_engine(database_url))
    yield db
    await db.dispose()


@pytest.mark.asyncio
async def test_ten_concurrent_holds_of_a_coupon_with_three_uses_left_take_exactly_three(
    service: Coupons, other_process: Database
) -> None:
    """Ten members' checkouts hold the coupon at once, on two processes."""
    c = await service.create(GUILD, spec(max_uses=3), by=MOD, currency="USD")
    results = await asyncio.gather(
        *(
            _hold(service.ctx.db if i % 2 else other_process, c, member=ALICE + 100 + i)
            for i in range(10)
        ),
        return_exceptions=True,
    )
    held = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert (len(held), len(refused)) == (3, 7)
    assert await _uses(service) == 3


@pytest.mark.asyncio
async def test_concurrent_holds_by_one_member_keep_the_per_member_limit(
    service: Coupons, other_process: Database
) -> None:
    """Alice's four checkouts at once, on two processes: the once-per-member code is used once."""
    c = await service.create(GUILD, spec(per_member_limit=1), by=MOD, currency="USD")
    results = await asyncio.gather(
        *(_hold(service.ctx.db if i % 2 else other_process, c) for i in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, InvalidInput) for r in results) == 3
    assert await _member_uses(service.ctx.db, c, ALICE) == 1
