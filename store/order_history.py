"""What a member can look back on: their recent orders, one order in full, its receipt
again, and the gifts others gave them.

Read models only; nothing here changes an order. Gifts received never carry the
buyer's order number, and an anonymous gift never carries its giver, so no reply
built from them can reveal either (see store.gift_reference).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import order_lines, orders
from store.effects import Receipt
from store.errors import InvalidInput
from store.fulfilment import coupon_receipt_line, load_money_facts, receipt_line
from store.money import Money
from store.orders import SETTLED_STATES, Order, OrderState
from store.settlement import FactKind, decide

#: Orders a member can pick from: one Discord select holds 25 options.
RECENT_LIMIT = 25


@dataclass(frozen=True)
class OrderSummary:
    """One order as a list shows it: no lines, one query for all of them."""

    id: int
    state: OrderState
    subtotal: Money
    cash_due: Money
    checkout_url: str | None
    checkout_expires_at: datetime | None
    created_at: datetime
    #: The gateway holding its session (None before it has one).
    gateway: str | None = None
    #: What a coupon took off `subtotal` (None: nothing).
    discount: Money | None = None

    @property
    def total(self) -> Money:
        """What the order came to: its lines less the coupon (before points)."""
        return self.subtotal if self.discount is None else self.subtotal - self.discount

    def payable(self, now: datetime, gateways: Collection[str]) -> bool:
        """Pending with a link that still works, at a gateway still enabled (a payment
        at one the operator disabled would never reach the shop): the member can pay it
        again from here."""
        return (
            self.state is OrderState.PENDING
            and self.checkout_url is not None
            and self.checkout_expires_at is not None
            and self.checkout_expires_at > now
            and self.gateway in gateways
        )


@dataclass(frozen=True)
class OrderDetail:
    """An order in full, with what its money did: paid (None before any capture)."""

    order: Order
    paid: Money | None

    @property
    def refunded(self) -> Money:
        return self.order.refunded

    @property
    def has_receipt(self) -> bool:
        return self.order.state in SETTLED_STATES


@dataclass(frozen=True)
class GiftReceived:
    """A gift as its recipient sees it: `giver_id` is None when the giver chose anonymity.

    Named by the gift's own reference, never by the buyer's order.
    """

    name: str
    quantity: int
    received_at: datetime
    giver_id: int | None
    gift_ref: str
    taken_back: bool


class OrderHistory:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def recent(
        self, shop_id: int, member_id: int, limit: int = RECENT_LIMIT
    ) -> list[OrderSummary]:
        """The member's newest orders first."""

        async def recent(conn: Conn) -> list[OrderSummary]:
            rows = await conn.execute(
                select(
                    orders.c.id,
                    orders.c.state,
                    orders.c.currency,
                    orders.c.subtotal,
                    orders.c.cash_due,
                    orders.c.checkout_url,
                    orders.c.checkout_expires_at,
                    orders.c.created_at,
                    orders.c.gateway,
                    orders.c.discount,
                )
                .where(orders.c.shop_id == shop_id, orders.c.buyer_id == member_id)
                .order_by(orders.c.id.desc())
                .limit(limit)
            )
            return [
                OrderSummary(
                    id=int(row.id),
                    state=OrderState(row.state),
                    subtotal=Money(int(row.subtotal), row.currency),
                    cash_due=Money(int(row.cash_due), row.currency),
                    checkout_url=row.checkout_url,
                    checkout_expires_at=row.checkout_expires_at,
                    created_at=row.created_at,
                    gateway=row.gateway,
                    discount=Money(int(row.discount), row.currency) if row.discount else None,
                )
                for row in rows
            ]

        return await self.ctx.db.read(recent)

    async def detail(self, order: Order) -> OrderDetail:
        """`order` (already checked to be the member's, see `OrderService.get`) in full.

        What was paid is what settlement decided was captured, from the same facts, so
        the page never disagrees with the order's state; in the currency it was paid in
        (a payment in the wrong currency is held, and shown as it came).
        """
        facts = await self.ctx.db.read(lambda conn: load_money_facts(conn, order.id))
        # An order has at most one capture (its fact reference is "capture").
        capture = next((f for f in facts if f.kind is FactKind.CAPTURED), None)
        if capture is None:
            return OrderDetail(order, None)
        due = order.cash_due
        decision = decide(
            facts, cash_due=due.amount, currency=due.currency, lifecycle=OrderState.PENDING
        )
        # A capture that did not say how much paid what the order was due (as decided).
        amount = due.amount if decision.captured is None else decision.captured
        return OrderDetail(order, Money(amount, (capture.currency or due.currency).upper()))

    def receipt(self, order: Order, locale: str = "en_US") -> Receipt:
        """The receipt of a paid order, as fulfilment first sent it; refused for any other."""
        if order.state not in SETTLED_STATES:
            raise InvalidInput(
                f"Order #{order.id} is {order.state.replace('_', ' ')}: only a paid order "
                "has a receipt."
            )
        # Lines are described from what was bought, by the installed kinds.
        kinds = self.ctx.shops.template.catalog.kinds
        lines = []
        for line in order.lines:
            kind = kinds.get(line.kind)
            text = kind.describe(line.spec, line.quantity) if kind else line.name
            lines.append(receipt_line(text, line.recipient_id, order.buyer_id))
        if order.coupon_code is not None and order.discounted:
            assert order.discount is not None
            lines.append(coupon_receipt_line(order.coupon_code, order.discount, locale))
        return Receipt(
            member_id=order.buyer_id,
            order_id=order.id,
            lines=lines,
            total=None,
            points_used=order.points_applied,
            paid=order.cash_due.amount,
            currency=order.cash_due.currency,
        )

    async def gifts_received(
        self, shop_id: int, member_id: int, limit: int = 10
    ) -> list[GiftReceived]:
        """Gifts given to the member (by someone else) that reached them, newest first."""

        async def gifts(conn: Conn) -> list[GiftReceived]:
            rows = await conn.execute(
                select(
                    order_lines.c.name,
                    order_lines.c.quantity,
                    order_lines.c.applied_at,
                    order_lines.c.clawed_back_at,
                    order_lines.c.anonymous,
                    order_lines.c.gift_ref,
                    orders.c.buyer_id,
                )
                .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
                .where(
                    orders.c.shop_id == shop_id,
                    order_lines.c.recipient_id == member_id,
                    orders.c.buyer_id != member_id,
                    order_lines.c.applied_at.is_not(None),
                )
                .order_by(order_lines.c.applied_at.desc(), order_lines.c.id.desc())
                .limit(limit)
            )
            return [
                GiftReceived(
                    name=row.name,
                    quantity=int(row.quantity),
                    received_at=row.applied_at,
                    giver_id=None if row.anonymous else int(row.buyer_id),
                    gift_ref=row.gift_ref or "",
                    taken_back=row.clawed_back_at is not None,
                )
                for row in rows
            ]

        return await self.ctx.db.read(gifts)
