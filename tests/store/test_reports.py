"""Sales reports: each figure of a seeded week, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from store.money import Money
from store.orders import Order, OrderState
from store.reports import DailyNet, ItemSales, Period, ReportPeriod, SalesReport, period_of
from store.shop import Shop
from tests.store.helpers import checkout_paid_by_card, gateway_event
from tests.support import ALICE, BOB, CAROL, GUILD, MOD, FakeClock

OTHER_GUILD = GUILD + 1
#: The seven UTC days 25–31 January 2026.
WEEK = Period(
    ReportPeriod.LAST_7_DAYS,
    datetime(2026, 1, 25, tzinfo=UTC),
    datetime(2026, 2, 1, tzinfo=UTC),
)


def at(day: int, hour: int = 12, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


async def paid(
    shop: Shop,
    clock: FakeClock,
    when: datetime,
    member: int,
    sku: str,
    *,
    quantity: int = 1,
    points: int = 0,
    shop_id: int = GUILD,
) -> Order:
    """The member buys `sku` at `when`: by card (paid at once), or wholly with points."""
    clock.now = when
    await shop.carts.add(shop_id, member, sku, quantity=quantity)
    order = (await shop.orders.checkout(shop_id, member, points=points)).order
    if order.cash_due.amount:
        order = await shop.orders.attach_session(
            order.id,
            gateway="fake",
            session_id=f"cs_{order.id}",
            url="http://pay.invalid",
            expires_at=when + timedelta(hours=1),
        )
        await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"pay-{order.id}"))
    return await shop.orders.get(shop_id, order.id)


async def refund(
    shop: Shop, clock: FakeClock, when: datetime, order: Order, subject: str, amount: int
) -> None:
    clock.now = when
    event = gateway_event(order, "refund_succeeded", f"{subject}:ok", amount, subject_id=subject)
    await shop.fulfilment.apply(event)


async def seeded_week(shop: Shop, clock: FakeClock) -> dict[str, Order]:
    """Orders paid and refunded inside the week and on either side of it."""
    orders: dict[str, Order] = {}
    # Paid before the week, refunded in full inside it: a refund of the week, not revenue.
    orders["before"] = await paid(shop, clock, at(20), ALICE, "paid-1m")
    await refund(shop, clock, at(26, 9), orders["before"], "re_before", 300)
    # One second before the week starts.
    await paid(shop, clock, datetime(2026, 1, 24, 23, 59, 59, tzinfo=UTC), BOB, "paid-12m")
    # At the first instant of the week: 200 points bought.
    orders["points"] = await paid(shop, clock, at(25, 0), BOB, "points-100", quantity=2)
    # 50 points granted, then spent on a card order (worth 500 of its 2000).
    clock.now = at(27, 10)
    await shop.grants.grant_points(GUILD, MOD, ALICE, 50, "contest")
    orders["part_points"] = await paid(shop, clock, at(27, 11), ALICE, "premium-6m", points=50)
    # Paid wholly with 10 of Bob's points: a paid order with no cash.
    orders["points_only"] = await paid(shop, clock, at(28), BOB, "trial-7d", points=10)
    # 100 refunded; a 200 refund that later failed counts for nothing.
    orders["partial"] = await paid(shop, clock, at(29, 15), CAROL, "paid-1m", quantity=2)
    await refund(shop, clock, at(30), orders["partial"], "re_kept", 100)
    await refund(shop, clock, at(30, 13), orders["partial"], "re_failed", 200)
    clock.now = at(31, 9)
    failed = gateway_event(
        orders["partial"], "refund_failed", "re_failed:failed", 200, subject_id="re_failed"
    )
    await shop.fulfilment.apply(failed)
    # Checked out in the week and never paid.
    clock.now = at(31, 10)
    await shop.carts.add(GUILD, CAROL, "paid-12m")
    await checkout_paid_by_card(shop, CAROL)
    # Another shop's sale in the week.
    await paid(shop, clock, at(31, 11), ALICE, "paid-12m", shop_id=OTHER_GUILD)
    # Points granted and an order paid at the first instant after the week.
    clock.now = at(1, 0, month=2)
    await shop.grants.grant_points(GUILD, MOD, CAROL, 70, "late")
    await paid(shop, clock, at(1, 0, month=2), ALICE, "trial-7d")
    clock.now = at(31)
    return orders


@pytest.mark.asyncio
async def test_a_week_of_sales_refunds_and_points(shop: Shop, clock: FakeClock) -> None:
    orders = await seeded_week(shop, clock)
    report = await shop.reports.sales_between(GUILD, WEEK)
    assert (report.revenue, report.refunds, report.net) == (usd(4100), usd(400), usd(3700))
    assert report.paid_orders == 4
    assert report.items == (
        ItemSales("points-100", "100 points", 2, usd(2000)),
        ItemSales("premium-6m", "Premium, 6 months", 1, usd(2000)),
        ItemSales("paid-1m", "Paid, 1 month", 2, usd(600)),
        ItemSales("trial-7d", "Paid, 7 days", 1, usd(100)),
    )
    assert (report.points_issued, report.points_spent) == (250, 60)
    nets = {25: 2000, 26: -300, 27: 1500, 28: 0, 29: 600, 30: -100, 31: 0}
    assert report.daily == tuple(DailyNet(date(2026, 1, d), usd(net)) for d, net in nets.items())
    assert [row.id for row in report.orders] == [
        orders[name].id for name in ("points", "part_points", "points_only", "partial")
    ]
    assert not report.empty


@pytest.mark.asyncio
async def test_an_order_row_says_what_it_cost_and_how_it_was_paid(
    shop: Shop, clock: FakeClock
) -> None:
    orders = await seeded_week(shop, clock)
    report = await shop.reports.sales_between(GUILD, WEEK)
    rows = {row.id: row for row in report.orders}
    part_points = rows[orders["part_points"].id]
    assert (
        part_points.paid_at,
        part_points.buyer_id,
        part_points.state,
        part_points.currency,
        part_points.subtotal,
        part_points.points_value,
        part_points.cash,
        part_points.refunded,
    ) == (at(27, 11), ALICE, OrderState.FULFILLED, "USD", usd(2000), usd(500), usd(1500), usd(0))
    partial = rows[orders["partial"].id]
    assert (partial.state, partial.cash, partial.refunded) == (
        OrderState.PARTIALLY_REFUNDED,
        usd(600),
        usd(100),
    )
    assert rows[orders["points_only"].id].cash == usd(0)


@pytest.mark.asyncio
async def test_the_report_is_of_the_period_ending_today_by_the_shop_clock(
    shop: Shop, clock: FakeClock
) -> None:
    await seeded_week(shop, clock)
    clock.now = at(31, 23)
    assert await shop.reports.sales(GUILD, ReportPeriod.LAST_7_DAYS) == (
        await shop.reports.sales_between(GUILD, WEEK)
    )


@pytest.mark.asyncio
async def test_a_quiet_period_is_empty_with_a_zero_for_every_day(
    shop: Shop, clock: FakeClock
) -> None:
    await seeded_week(shop, clock)
    december = period_of(ReportPeriod.LAST_MONTH, at(31))
    report = await shop.reports.sales_between(GUILD, december)
    assert report == SalesReport(
        period=december,
        currency="USD",
        revenue=usd(0),
        refunds=usd(0),
        paid_orders=0,
        items=(),
        points_issued=0,
        points_spent=0,
        daily=tuple(DailyNet(date(2025, 12, day), usd(0)) for day in range(1, 32)),
        orders=(),
    )
    assert report.empty


@pytest.mark.asyncio
async def test_another_shop_reports_only_its_own_sales(shop: Shop, clock: FakeClock) -> None:
    await seeded_week(shop, clock)
    report = await shop.reports.sales_between(OTHER_GUILD, WEEK)
    assert (report.paid_orders, report.revenue, report.points_issued) == (1, usd(2500), 0)
    assert report.items == (ItemSales("paid-12m", "Paid, 12 months", 1, usd(2500)),)


@pytest.mark.parametrize(
    ("kind", "start", "end"),
    [
        (ReportPeriod.LAST_7_DAYS, date(2026, 3, 10), date(2026, 3, 17)),
        (ReportPeriod.LAST_30_DAYS, date(2026, 2, 15), date(2026, 3, 17)),
        (ReportPeriod.LAST_90_DAYS, date(2025, 12, 17), date(2026, 3, 17)),
        (ReportPeriod.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 17)),
        (ReportPeriod.LAST_MONTH, date(2026, 2, 1), date(2026, 3, 1)),
    ],
)
def test_periods_are_whole_utc_days_with_today_last(
    kind: ReportPeriod, start: date, end: date
) -> None:
    period = period_of(kind, datetime(2026, 3, 16, 4, 30, tzinfo=UTC))
    midnight = datetime.min.time()
    assert (period.start, period.end) == (
        datetime.combine(start, midnight, tzinfo=UTC),
        datetime.combine(end, midnight, tzinfo=UTC),
    )
    assert len(period.days) == (end - start).days
