"""Sales reports for moderators: what a period brought in, gave back and gave away.

Figures come from the money facts and the ledger, never from an order's current state
alone, so a period's figures stay what they were when the period closed: an order paid
in March and refunded in April counts as revenue in March and as a refund in April.

- Revenue: the cash captured by orders paid in the period (held orders included: their
  money was taken, whatever a moderator decides later; points-only orders count as paid
  orders with no cash).
- Refunds: the refunds that succeeded in the period and did not later fail (a failed
  refund's money is back with the shop). Charge-backs are not refunds and are not here.
- Points: issued are grants and points bought (not points handed back after a refund
  failed, which were issued once already); spent are the debits of orders paying with
  points.

Periods are whole UTC days, so "7 days" is the same seven days for every moderator
wherever they are. Money is summed in the shop's currency only: an order paid in
another (a payment in the wrong currency, held for review) is listed in the CSV rows
in its own currency and left out of the totals, since the two cannot be added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from store.accounts import Reason
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import ledger, order_lines, order_money_facts, orders
from store.kinds.base import GIVEN_BACK
from store.money import Money
from store.orders import OrderState
from store.settlement import FactKind


class ReportPeriod(StrEnum):
    """The periods a moderator can ask for."""

    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    LAST_90_DAYS = "90d"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"


DEFAULT_PERIOD = ReportPeriod.LAST_30_DAYS

_ROLLING_DAYS = {
    ReportPeriod.LAST_7_DAYS: 7,
    ReportPeriod.LAST_30_DAYS: 30,
    ReportPeriod.LAST_90_DAYS: 90,
}


@dataclass(frozen=True)
class Period:
    """Whole UTC days: from `start` (midnight) up to, not including, `end` (midnight)."""

    kind: ReportPeriod
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=n) for n in range((self.end - self.start).days)]

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def period_of(kind: ReportPeriod, now: datetime) -> Period:
    """The period as of `now`: rolling ones and this month end with today (included);
    last month is the whole previous calendar month."""
    today = now.astimezone(UTC).date()
    tomorrow = _midnight(today + timedelta(days=1))
    if kind in _ROLLING_DAYS:
        return Period(kind, tomorrow - timedelta(days=_ROLLING_DAYS[kind]), tomorrow)
    first_of_month = today.replace(day=1)
    if kind is ReportPeriod.THIS_MONTH:
        return Period(kind, _midnight(first_of_month), tomorrow)
    previous = (first_of_month - timedelta(days=1)).replace(day=1)
    return Period(kind, _midnight(previous), _midnight(first_of_month))


@dataclass(frozen=True)
class ItemSales:
    """One item's share of the period: units sold and their value at the order's prices
    (before points, which pay for part of an order, not for one of its items)."""

    sku: str
    name: str
    quantity: int
    revenue: Money


@dataclass(frozen=True)
class DailyNet:
    day: date
    net: Money


@dataclass(frozen=True)
class OrderRow:
    """One order paid in the period, as its CSV row shows it. `cash` is what was captured,
    in the currency it was captured in; `refunded` is all refunded so far."""

    id: int
    paid_at: datetime
    buyer_id: int
    state: OrderState
    currency: str
    subtotal: Money
    #: What a coupon took off (subtotal - discount - points_value = cash due).
    discount: Money
    points_value: Money
    cash: Money
    refunded: Money


@dataclass(frozen=True)
class SalesReport:
    period: Period
    currency: str
    revenue: Money
    refunds: Money
    paid_orders: int
    items: tuple[ItemSales, ...]
    points_issued: int
    points_spent: int
    daily: tuple[DailyNet, ...]
    orders: tuple[OrderRow, ...]

    @property
    def net(self) -> Money:
        return self.revenue - self.refunds

    @property
    def empty(self) -> bool:
        """Nothing happened: no order paid, no refund, no points moved."""
        return not any(
            (self.paid_orders, self.refunds.amount, self.points_issued, self.points_spent)
        )


_ISSUED = (Reason.GRANT.value, Reason.ORDER_LINE.value)


class Reports:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def sales(self, shop_id: int, kind: ReportPeriod = DEFAULT_PERIOD) -> SalesReport:
        """The shop's sales report for the period ending today (UTC, by the shop's clock)."""
        return await self.sales_between(shop_id, period_of(kind, self.ctx.now()))

    async def sales_between(self, shop_id: int, period: Period) -> SalesReport:
        currency = (await self.ctx.shops.get(shop_id)).currency

        async def report(conn: Conn) -> SalesReport:
            paid = await _paid_orders(conn, shop_id, period)
            refunds = await _refunds(conn, shop_id, period)
            items = await _items(conn, shop_id, period, currency)
            issued, spent = await _points(conn, shop_id, period)
            return _assemble(period, currency, paid, refunds, items, issued, spent)

        return await self.ctx.db.read(report)


def _in(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


_capture = aliased(order_money_facts, name="capture")
#: Joins an order to its capture fact, when it has one.
_CAPTURE_OF_ORDER = and_(
    _capture.c.order_id == orders.c.id, _capture.c.kind == FactKind.CAPTURED.value
)


def _captured(row: Any) -> int:
    """What the order's capture took: a capture that did not say how much paid what the
    order was due (as settled)."""
    return int(row.cash_due) if row.captured is None else int(row.captured)


async def _paid_orders(conn: Conn, shop_id: int, period: Period) -> list[OrderRow]:
    rows = await conn.execute(
        select(
            orders.c.id,
            orders.c.paid_at,
            orders.c.buyer_id,
            orders.c.state,
            orders.c.currency,
            orders.c.subtotal,
            orders.c.discount,
            orders.c.points_value,
            orders.c.cash_due,
            orders.c.refunded,
            _capture.c.amount.label("captured"),
            _capture.c.currency.label("captured_currency"),
        )
        .select_from(orders.outerjoin(_capture, _CAPTURE_OF_ORDER))
        .where(orders.c.shop_id == shop_id, _in(orders.c.paid_at, period))
        .order_by(orders.c.paid_at, orders.c.id)
    )
    found = []
    for row in rows:
        currency = str(row.currency)
        paid_in = str(row.captured_currency or currency).upper()
        found.append(
            OrderRow(
                id=int(row.id),
                paid_at=row.paid_at,
                buyer_id=int(row.buyer_id),
                state=OrderState(row.state),
                currency=currency,
                subtotal=Money(int(row.subtotal), currency),
                discount=Money(int(row.discount), currency),
                points_value=Money(int(row.points_value), currency),
                cash=Money(_captured(row), paid_in),
                refunded=Money(int(row.refunded), currency),
            )
        )
    return found


async def _refunds(conn: Conn, shop_id: int, period: Period) -> list[tuple[datetime, Money]]:
    """Each refund that succeeded in the period and has not failed since, when and how much."""
    refund = aliased(order_money_facts, name="refund")
    failed = aliased(order_money_facts, name="failed")
    rows = await conn.execute(
        select(
            refund.c.recorded_at,
            refund.c.amount,
            refund.c.currency,
            orders.c.currency.label("order_currency"),
            orders.c.cash_due,
            _capture.c.amount.label("captured"),
        )
        .select_from(
            refund.join(orders, orders.c.id == refund.c.order_id).outerjoin(
                _capture, _CAPTURE_OF_ORDER
            )
        )
        .where(
            orders.c.shop_id == shop_id,
            refund.c.kind == FactKind.REFUND_SUCCEEDED.value,
            _in(refund.c.recorded_at, period),
            ~exists().where(
                failed.c.order_id == refund.c.order_id,
                failed.c.subject == refund.c.subject,
                failed.c.kind == FactKind.REFUND_FAILED.value,
            ),
        )
    )
    found = []
    for row in rows:
        # A refund that did not say how much returned everything captured (settlement's rule).
        amount = _captured(row) if row.amount is None else int(row.amount)
        currency = str(row.currency or row.order_currency).upper()
        found.append((row.recorded_at, Money(amount, currency)))
    return found


async def _items(conn: Conn, shop_id: int, period: Period, currency: str) -> list[ItemSales]:
    revenue = func.sum(order_lines.c.unit_price * order_lines.c.quantity)
    rows = await conn.execute(
        select(
            order_lines.c.sku,
            # A renamed item keeps one row: its sku is what it is.
            func.max(order_lines.c.name).label("name"),
            func.sum(order_lines.c.quantity).label("quantity"),
            revenue.label("revenue"),
        )
        .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
        .where(
            orders.c.shop_id == shop_id,
            orders.c.currency == currency,
            _in(orders.c.paid_at, period),
        )
        .group_by(order_lines.c.sku)
        .order_by(revenue.desc(), order_lines.c.sku)
    )
    return [
        ItemSales(
            sku=str(row.sku),
            name=str(row.name),
            quantity=int(row.quantity),
            revenue=Money(int(row.revenue), currency),
        )
        for row in rows
    ]


async def _points(conn: Conn, shop_id: int, period: Period) -> tuple[int, int]:
    row = (
        await conn.execute(
            select(
                func.coalesce(
                    func.sum(ledger.c.points_delta).filter(
                        ledger.c.reason.in_(_ISSUED),
                        ledger.c.points_delta > 0,
                        # Handed back after a failed refund: issued once already.
                        func.coalesce(ledger.c.memo, "") != GIVEN_BACK,
                    ),
                    0,
                ).label("issued"),
                func.coalesce(
                    func.sum(ledger.c.points_delta).filter(
                        ledger.c.reason == Reason.SPEND.value, ledger.c.points_delta < 0
                    ),
                    0,
                ).label("spent"),
            ).where(ledger.c.shop_id == shop_id, _in(ledger.c.created_at, period))
        )
    ).one()
    return int(row.issued), -int(row.spent)


def _assemble(
    period: Period,
    currency: str,
    paid: Sequence[OrderRow],
    refunds: Sequence[tuple[datetime, Money]],
    items: Sequence[ItemSales],
    issued: int,
    spent: int,
) -> SalesReport:
    daily = dict.fromkeys(period.days, 0)
    revenue = 0
    for order in paid:
        if order.cash.currency == currency:
            revenue += order.cash.amount
            daily[order.paid_at.date()] += order.cash.amount
    refunded = 0
    for moment, money in refunds:
        if money.currency == currency:
            refunded += money.amount
            daily[moment.date()] -= money.amount
    return SalesReport(
        period=period,
        currency=currency,
        revenue=Money(revenue, currency),
        refunds=Money(refunded, currency),
        paid_orders=len(paid),
        items=tuple(items),
        points_issued=issued,
        points_spent=spent,
        daily=tuple(DailyNet(day, Money(net, currency)) for day, net in daily.items()),
        orders=tuple(paid),
    )
