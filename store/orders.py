"""Orders: checkout freezes the cart into an order the buyer pays for.

A pending order lapses (expired | cancelled | failed: lines go back to the buyer's
cart, reserved points are released) by the rules here. Once money moves, the order's
state is decided from its money facts by `store.settlement.decide` — fulfilled,
partially refunded, disputed, refunded, charged back or held — and nowhere else.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.engine import Row

from store import coupons, stock
from store.accounts import AccountBook
from store.carts import (
    CartLineContext,
    CartRow,
    CartService,
    CartSummary,
    coupon_discount,
    free_points,
    load_coupon,
    load_lines,
    lock_cart_row,
    note_prices,
    set_coupon,
)
from store.catalog import CatalogItem
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import cart_lines, order_lines, orders
from store.effects import Effect
from store.errors import EmptyCart, IllegalTransition, InvalidInput, NotFound
from store.kinds.base import LineDraft
from store.money import Money
from store.outbox import store_effects
from store.shops import ShopDefinition


class OrderState(StrEnum):
    PENDING = "pending"
    HELD = "held"
    PAID = "paid"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"
    CHARGED_BACK = "charged_back"


S = OrderState
OPEN_STATES = frozenset({S.PENDING})
#: Paid and not given back: the member holds what the order bought.
SETTLED_STATES = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.DISPUTED})
LAPSED_STATES = frozenset({S.EXPIRED, S.CANCELLED, S.FAILED})
#: States a moderator should look at until they change: money that did not match, a
#: dispute, and a partial refund (whether to take anything back is theirs to decide).
REVIEW_STATES = frozenset({S.HELD, S.DISPUTED, S.PARTIALLY_REFUNDED})


def check_lapse(current: OrderState, target: OrderState) -> None:
    """Only an unpaid (pending) order lapses; money states are the facts' to decide."""
    if target not in LAPSED_STATES or current is not S.PENDING:
        raise IllegalTransition(f"An order that is {current} cannot become {target}.")


def cancel_problem(order_id: int, state: OrderState) -> str | None:
    """Why a member can't cancel this order now, or None when it waits for payment.

    Only a pending order is cancelled; anything else already has its outcome, and
    the member is told which (a second press of Cancel says it is already cancelled).
    """
    name = f"Order #{order_id}"
    if state is S.PENDING:
        return None
    if state is S.CANCELLED:
        return f"{name} is already cancelled; its items are back in your cart."
    if state is S.EXPIRED:
        return f"{name} has expired; its items are back in your cart."
    if state is S.FAILED:
        return f"{name}'s payment failed; its items are back in your cart."
    if state is S.HELD:
        return f"{name} has been paid and waits for a moderator: it can't be cancelled."
    if state in SETTLED_STATES:
        return f"{name} is already paid, so it can't be cancelled. See /account for it."
    return f"{name} was paid and its money has gone back: there is nothing to cancel."


def check_held(order_id: int, state: OrderState) -> None:
    """Only a held order is resolved by a moderator; anything else has nothing to resolve."""
    if state is not S.HELD:
        name = state.replace("_", " ")
        hint = " To return its money, refund it instead." if state in SETTLED_STATES else ""
        raise InvalidInput(f"Order #{order_id} is {name}, not held: nothing to resolve.{hint}")


@dataclass(frozen=True)
class OrderRecord:
    """An order's row as the money paths need it: typed, no lines."""

    id: int
    shop_id: int
    buyer_id: int
    state: OrderState
    currency: str
    cash_due: int
    points_applied: int
    points_reserved: int
    refunded: int
    gateway: str | None
    gateway_session_id: str | None
    payment_ref: str | None
    paid_at: datetime | None
    #: The coupon the order used (its use is held in coupon_uses), or None.
    coupon_code: str | None = None
    #: What the coupon took off (minor units).
    discount: int = 0

    @classmethod
    def from_row(cls, row: Row[Any]) -> OrderRecord:
        return cls(
            id=int(row.id),
            shop_id=int(row.shop_id),
            buyer_id=int(row.buyer_id),
            state=OrderState(row.state),
            currency=str(row.currency),
            cash_due=int(row.cash_due),
            points_applied=int(row.points_applied),
            points_reserved=int(row.points_reserved),
            refunded=int(row.refunded),
            gateway=row.gateway,
            gateway_session_id=row.gateway_session_id,
            payment_ref=row.payment_ref,
            paid_at=row.paid_at,
            coupon_code=row.coupon_code,
            discount=int(row.discount),
        )


@dataclass(frozen=True)
class OrderLine:
    id: int
    sku: str
    kind: str
    name: str
    quantity: int
    unit_price: Money
    recipient_id: int
    anonymous: bool
    note: str | None
    spec: dict[str, Any]

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Order:
    id: int
    shop_id: int
    buyer_id: int
    state: OrderState
    subtotal: Money
    points_applied: int
    points_value: Money
    cash_due: Money
    refunded: Money
    gateway: str | None
    gateway_session_id: str | None
    checkout_url: str | None
    checkout_expires_at: datetime | None
    review_reason: str | None
    created_at: datetime
    lines: tuple[OrderLine, ...]
    paid_at: datetime | None = None
    #: What the coupon took off `subtotal` (None or zero: no coupon); points then
    #: apply to the rest, and cash_due = subtotal - discount - points_value.
    discount: Money | None = None
    coupon_code: str | None = None

    @property
    def discounted(self) -> bool:
        """Whether a coupon took something off."""
        return self.discount is not None and self.discount.amount > 0

    @property
    def needs_payment(self) -> bool:
        return self.state is OrderState.PENDING and self.cash_due.amount > 0


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    effects: list[Effect]
    created: bool
    #: The member's cart right after checkout, read in the same transaction (a reply
    #: shows it without asking the database again); None when nothing was created.
    cart: CartSummary | None = None


def plan_points(
    total: int, available: int, wanted: int, point_value: int, minimum_cash: int
) -> int:
    """How many points to apply: all that cover the order, or leave the minimum cash.

    A card payment below `minimum_cash` costs more in fees than it brings, so a
    partly-covered order always keeps at least that much (or the whole total, when
    the total is smaller).
    """
    usable = max(0, min(available, wanted))
    needed = -(-total // point_value)  # ceiling: the points that cover it all
    if usable >= needed:
        return needed
    keep = min(total, minimum_cash)
    most = max(0, (total - keep) // point_value)
    return min(usable, most)


class OrderService:
    def __init__(self, ctx: StoreContext, carts: CartService) -> None:
        self.ctx = ctx
        self.carts = carts

    async def checkout(self, shop_id: int, member_id: int, *, points: int = 0) -> CheckoutResult:
        """Freeze the cart into an order; with enough points it is paid at once.

        Two checkouts of the same cart make one order: the second finds the cart
        emptied by the first and returns the order it made.
        """
        if points < 0:
            raise InvalidInput("The number of points must be zero or more.")
        try:
            return await self._checkout(shop_id, member_id, points)
        except _AlreadyCheckedOut as done:
            return CheckoutResult(done.order, [], created=False)
        except _Repriced as changed:
            # Refused, and the member is now told the new prices: noted, so checking
            # out again pays them (nothing else in the cart changes).
            shop = await self.ctx.shops.get(shop_id)
            prices = {line: item.price for line, (item, _) in changed.lines.items()}
            await self.ctx.db.write(lambda conn: note_prices(conn, prices))
            what = "; ".join(
                f"{item.name}: was {was.format(shop.locale)}, now {item.price.format(shop.locale)}"
                for item, was in changed.lines.values()
            )
            raise InvalidInput(
                f"Prices changed since you added them ({what}). Nothing was charged; "
                "check out again to pay the new prices, or remove the line."
            ) from None

    async def _checkout(self, shop_id: int, member_id: int, points: int) -> CheckoutResult:
        from store.fulfilment import settle_points_only  # the cycle is deliberate

        ctx = self.ctx

        async def checkout(conn: Conn) -> CheckoutResult:
            now = ctx.now()
            # The shop as it is now, not as this process last refreshed it: a price or
            # stock changed a moment ago through another process is what is sold.
            shop = await ctx.shops.current(shop_id, conn)
            cart_id, version, code = await lock_cart_row(conn, shop_id, member_id, now)
            rows = await load_lines(conn, cart_id)
            if not rows:
                previous = await _order_by_key(conn, ctx, shop_id, f"{cart_id}:{version - 1}")
                if previous is not None and previous.state in {S.PENDING, S.FULFILLED, S.PAID}:
                    # Rolls back this transaction's version bump, so asking again finds it too.
                    raise _AlreadyCheckedOut(previous)
                raise EmptyCart("Your cart is empty. Add something first.")
            drafts = []
            repriced: dict[int, tuple[CatalogItem, Money]] = {}
            for row in rows:
                item = shop.catalog.get(row.sku)
                if item is None:
                    raise InvalidInput(
                        f"{shop.retired_name(row.sku)} is no longer sold; remove it from your "
                        "cart to check out."
                    )
                problem = item.window_problem(now)
                if problem is not None:
                    raise InvalidInput(f"{problem} Remove it from your cart to check out.")
                seen = row.repriced(item)
                if seen is not None:
                    repriced[row.id] = (item, seen)
                drafts.append((row, item))
            if repriced:
                raise _Repriced(repriced)
            book = AccountBook(conn, shop_id, now, shop.tiers)
            for index, (row, item) in enumerate(drafts):
                others = [
                    LineDraft(o.sku, o_item.spec, o.quantity, member_id, o.recipient_id)
                    for j, (o, o_item) in enumerate(drafts)
                    if j != index
                ]
                draft = LineDraft(item.sku, item.spec, row.quantity, member_id, row.recipient_id)
                await shop.catalog.kind_of(item).validate_line(draft, CartLineContext(book, others))
            if points and any(shop.catalog.renews_every(item) for _, item in drafts):
                raise InvalidInput(
                    "A subscription renews on your card each time, so it can't be paid with "
                    "points. Check out without points, or remove the subscription."
                )
            if shop.catalog.has_limits:
                wanted: dict[str, tuple[CatalogItem, int]] = {}
                for row, item in drafts:
                    if item.limited:
                        _, so_far = wanted.get(item.sku, (item, 0))
                        wanted[item.sku] = (item, so_far + row.quantity)
                await stock.reserve(conn, shop_id, member_id, wanted)
            subtotal = sum(item.price.amount * row.quantity for row, item in drafts)
            coupon, discount = await _coupon_for(shop, conn, member_id, code, drafts, now)
            after_coupon = subtotal - discount
            balance, reserved = await book.balance(member_id)
            applied = plan_points(
                after_coupon,
                balance - reserved,
                points,
                shop.profile.point_value,
                shop.profile.minimum_cash,
            )
            points_value = min(after_coupon, applied * shop.profile.point_value)
            cash_due = after_coupon - points_value
            if applied:
                await book.reserve_points(member_id, applied)
            result = await conn.execute(
                orders.insert()
                .values(
                    shop_id=shop_id,
                    buyer_id=member_id,
                    state=S.PENDING.value,
                    currency=shop.currency,
                    subtotal=subtotal,
                    points_applied=applied,
                    points_value=points_value,
                    cash_due=cash_due,
                    discount=discount,
                    coupon_code=None if coupon is None else coupon.code,
                    refunded=0,
                    points_reserved=applied,
                    checkout_key=f"{cart_id}:{version}",
                    created_at=now,
                    updated_at=now,
                )
                .returning(orders.c.id)
            )
            order_id = int(result.scalar_one())
            await conn.execute(
                order_lines.insert(),
                [
                    {
                        "order_id": order_id,
                        "position": position,
                        "sku": item.sku,
                        "kind": item.kind,
                        "name": item.name,
                        "quantity": row.quantity,
                        "unit_price": item.price.amount,
                        "recipient_id": row.recipient_id,
                        "anonymous": row.anonymous,
                        "note": row.note,
                        "spec": dict(item.spec),
                        "stock_held": True if item.stock is not None else None,
                    }
                    for position, (row, item) in enumerate(drafts)
                ],
            )
            if coupon is not None:
                # Exactly once per order: refused here (used up meanwhile), the whole
                # checkout rolls back and the member's cart stays as it was.
                await coupons.hold(
                    conn,
                    coupon,
                    order_id=order_id,
                    member_id=member_id,
                    discount=discount,
                    now=now,
                )
                await set_coupon(conn, cart_id, None)
            await conn.execute(delete(cart_lines).where(cart_lines.c.cart_id == cart_id))
            effects: list[Effect] = []
            if cash_due == 0:
                effects = await settle_points_only(ctx, conn, order_id, now)
                await store_effects(conn, effects, order_id=order_id, now=now, shop_id=shop_id)
            order = await load_order(conn, ctx, order_id)
            points_left = await free_points(conn, shop_id, member_id)
            cart = self.carts.summary(shop, member_id, [], version, points_left)
            return CheckoutResult(order, effects, created=True, cart=cart)

        return await ctx.db.write(checkout)

    async def attach_session(
        self,
        order_id: int,
        *,
        gateway: str,
        session_id: str,
        url: str,
        expires_at: datetime,
    ) -> Order:
        """Remember the gateway session made for a pending order: the first one only.

        Two sessions can be opened for one order at once (two gateways pressed together,
        or a press racing Cancel); only a pending order without a session takes one, so
        the order keeps one link. The caller compares the returned order's session with
        its own and kills a session that did not stick.
        """

        async def attach(conn: Conn) -> Order:
            await conn.execute(
                update(orders)
                .where(
                    orders.c.id == order_id,
                    orders.c.state == S.PENDING.value,
                    orders.c.gateway_session_id.is_(None),
                )
                .values(
                    gateway=gateway,
                    gateway_session_id=session_id,
                    checkout_url=url,
                    checkout_expires_at=expires_at,
                    updated_at=self.ctx.now(),
                )
            )
            return await load_order(conn, self.ctx, order_id)

        return await self.ctx.db.write(attach)

    async def get(self, shop_id: int, order_id: int, *, buyer_id: int | None = None) -> Order:
        """An order of this shop; with `buyer_id`, only if it is that member's."""
        if not isinstance(order_id, int) or not 0 < order_id < 2**63:
            raise NotFound("No such order.")
        order = await self.ctx.db.read(lambda conn: _find(conn, self.ctx, order_id))
        if order is None or order.shop_id != shop_id:
            raise NotFound("No such order.")
        if buyer_id is not None and order.buyer_id != buyer_id:
            raise NotFound("No such order.")
        return order

    async def recent(self, shop_id: int, member_id: int, limit: int = 10) -> list[Order]:
        async def recent(conn: Conn) -> list[Order]:
            ids = (
                await conn.execute(
                    select(orders.c.id)
                    .where(orders.c.shop_id == shop_id, orders.c.buyer_id == member_id)
                    .order_by(orders.c.id.desc())
                    .limit(limit)
                )
            ).scalars()
            return [await load_order(conn, self.ctx, int(i)) for i in list(ids)]

        return await self.ctx.db.read(recent)

    async def lapse(self, order_id: int, state: OrderState) -> Order:
        """Expire, cancel or fail a pending order: lines back to the cart, points released."""
        if state not in LAPSED_STATES:
            raise InvalidInput(f"{state} is not a way for an order to lapse.")

        async def lapse(conn: Conn) -> Order:
            row = await lock_record(conn, order_id)
            if row is None:
                raise NotFound("No such order.")
            check_lapse(row.state, state)
            await lapse_order(self.ctx, conn, order_id, state, self.ctx.now())
            return await load_order(conn, self.ctx, order_id)

        return await self.ctx.db.write(lapse)

    async def cancellable(self, shop_id: int, member_id: int, order_id: int) -> Order:
        """The member's own order, if they may cancel it now; else refused, saying why.

        Checked before the gateway is asked to kill the link, so a stale or forged
        press never reaches the gateway; `cancel` checks again under the order's lock.
        """
        order = await self.get(shop_id, order_id, buyer_id=member_id)
        problem = cancel_problem(order.id, order.state)
        if problem is not None:
            raise InvalidInput(problem)
        return order

    async def cancel(self, shop_id: int, member_id: int, order_id: int) -> Order:
        """The member cancels their pending order: lines back to the cart, points released.

        Once: a second cancel, or one after the order was paid or lapsed meanwhile, is
        refused and changes nothing. A payment that arrives after the cancel still wins
        (`store.fulfilment` takes the lines back out of the cart), as after an expiry.
        """

        async def cancel(conn: Conn) -> Order:
            row = await lock_record(conn, order_id)
            if row is None or row.shop_id != shop_id or row.buyer_id != member_id:
                raise NotFound("No such order.")
            problem = cancel_problem(row.id, row.state)
            if problem is not None:
                raise InvalidInput(problem)
            await lapse_order(self.ctx, conn, order_id, S.CANCELLED, self.ctx.now())
            return await load_order(conn, self.ctx, order_id)

        if not isinstance(order_id, int) or not 0 < order_id < 2**63:
            raise NotFound("No such order.")
        return await self.ctx.db.write(cancel)

    async def needing_review(self, shop_id: int, limit: int = 20) -> list[Order]:
        """Held, disputed and partially refunded orders, each with its reason: what a
        moderator must decide. Held orders come first (their money waits and their
        points stay reserved), then disputes, then partial refunds, which stay listed
        until their state changes and must not push the others out of the list."""
        urgency = case(
            (orders.c.state == S.HELD.value, 0),
            (orders.c.state == S.DISPUTED.value, 1),
            else_=2,
        )

        async def review(conn: Conn) -> list[Order]:
            ids = (
                await conn.execute(
                    select(orders.c.id)
                    .where(
                        orders.c.shop_id == shop_id,
                        orders.c.state.in_([s.value for s in REVIEW_STATES]),
                    )
                    .order_by(urgency, orders.c.updated_at, orders.c.id)
                    .limit(limit)
                )
            ).scalars()
            return [await load_order(conn, self.ctx, int(i)) for i in list(ids)]

        return await self.ctx.db.read(review)

    async def refundable(self, shop_id: int, order_id: int, amount: int | None = None) -> Order:
        """The order, if its money can be refunded through the gateway now; else refuse."""
        order = await self.get(shop_id, order_id)
        problem = refund_problem(order, amount, (await self.ctx.shops.get(shop_id)).locale)
        if problem is not None:
            raise InvalidInput(problem)
        return order

    async def held_refundable(self, shop_id: int, order_id: int) -> Order:
        """A held order whose payment can be returned through the gateway (resolving it
        by refund); refused, with why, for any other order."""
        order = await self.get(shop_id, order_id)
        check_held(order.id, order.state)
        problem = refund_problem(order, None, (await self.ctx.shops.get(shop_id)).locale)
        if problem is not None:
            raise InvalidInput(problem)
        return order

    async def stale_pending(
        self, older_than: timedelta, limit: int = 100, *, gateways: Collection[str] | None = None
    ) -> list[Order]:
        """Pending orders with a gateway session, untouched for `older_than` (reconciliation).

        ``gateways``: only sessions held by these (the enabled ones), so orders nobody can
        ask about never fill the batch.
        """
        cutoff = self.ctx.now() - older_than
        where = [
            orders.c.state == S.PENDING.value,
            orders.c.updated_at <= cutoff,
            orders.c.gateway_session_id.is_not(None),
        ]
        if gateways is not None:
            where.append(orders.c.gateway.in_(list(gateways)))
        return await self._pending_where(where, limit)

    async def expired_elsewhere(self, gateways: Collection[str], limit: int = 100) -> list[Order]:
        """Pending orders whose session is held by a gateway not among ``gateways`` (one
        the operator disabled) and whose link has expired: nothing can pay them now."""
        where = [
            orders.c.state == S.PENDING.value,
            orders.c.gateway_session_id.is_not(None),
            orders.c.gateway.not_in(list(gateways)),
            orders.c.checkout_expires_at <= self.ctx.now(),
        ]
        return await self._pending_where(where, limit)

    async def _pending_where(self, where: list[Any], limit: int) -> list[Order]:
        async def pending(conn: Conn) -> list[Order]:
            ids = (
                await conn.execute(
                    select(orders.c.id).where(*where).order_by(orders.c.updated_at).limit(limit)
                )
            ).scalars()
            return [await load_order(conn, self.ctx, int(i)) for i in list(ids)]

        return await self.ctx.db.read(pending)

    async def stale_without_session(self, older_than: timedelta, limit: int = 100) -> list[Order]:
        """Pending card orders that never got a gateway session (a crash or a gateway
        outage between checkout and the session), untouched for `older_than`."""
        where = [
            orders.c.state == S.PENDING.value,
            orders.c.updated_at <= self.ctx.now() - older_than,
            orders.c.gateway_session_id.is_(None),
            orders.c.cash_due > 0,
        ]
        return await self._pending_where(where, limit)

    async def by_session(self, gateway: str, session_id: str) -> Order | None:
        """The order a gateway session was opened for; None for a session not of this shop
        (the return page asks the gateway only about sessions we opened)."""
        # Longer than the column, or with a NUL PostgreSQL refuses: nobody's session.
        if not session_id or len(session_id) > 255 or "\x00" in session_id:
            return None

        async def find(conn: Conn) -> Order | None:
            row = (
                await conn.execute(
                    select(orders).where(
                        orders.c.gateway == gateway, orders.c.gateway_session_id == session_id
                    )
                )
            ).first()
            return None if row is None else await _materialize(conn, self.ctx, row)

        return await self.ctx.db.read(find)


def refund_problem(order: Order, amount: int | None, locale: str = "en_US") -> str | None:
    """Why a refund of `order` (all, or `amount` minor units) can't be asked for, or None."""
    name = f"Order #{order.id}"
    if order.state is S.DISPUTED:
        return f"{name} is disputed: the dispute decides its money, so it can't be refunded now."
    if order.state is S.REFUNDED:
        return f"{name} is already refunded."
    if order.state is S.CHARGED_BACK:
        return f"{name} was charged back: its money has already gone back."
    if order.state in OPEN_STATES or order.state in LAPSED_STATES:
        return f"{name} was never paid, so there is nothing to refund."
    if order.gateway_session_id is None or order.cash_due.amount == 0:
        return (
            f"{name} was not paid in cash (points or a coupon covered it); there is no "
            "payment to refund."
        )
    if amount is not None:
        left = order.cash_due.amount - order.refunded.amount
        if order.state is not S.HELD and amount > left:
            return (
                f"At most {Money(left, order.cash_due.currency).format(locale)} of {name} "
                "can still be refunded."
            )
    return None


async def lock_record(conn: Conn, order_id: int) -> OrderRecord | None:
    """The order's row, locked for the rest of the transaction."""
    row = (
        await conn.execute(select(orders).where(orders.c.id == order_id).with_for_update())
    ).first()
    return None if row is None else OrderRecord.from_row(row)


async def lapse_order(
    ctx: StoreContext, conn: Conn, order_id: int, state: OrderState, now: datetime
) -> bool:
    """Move a pending order to a lapsed state; False when it was no longer pending.

    The one place an order ends unpaid, so it is also where held stock and the
    coupon's use go back (in checkout's lock order: cart, stock, coupon).
    """
    row = await lock_record(conn, order_id)
    if row is None:
        raise NotFound("No such order.")
    if row.state is not S.PENDING:
        return False
    check_lapse(row.state, state)
    await conn.execute(
        update(orders)
        .where(and_(orders.c.id == order_id, orders.c.state == S.PENDING.value))
        .values(state=state.value, updated_at=now, points_reserved=0)
    )
    if row.points_reserved:
        tiers = (await ctx.shops.get(row.shop_id, conn)).tiers
        await AccountBook(conn, row.shop_id, now, tiers).release_points(
            row.buyer_id, row.points_reserved
        )
    cart_id, _, cart_code = await lock_cart_row(conn, row.shop_id, row.buyer_id, now)
    if row.coupon_code is not None and cart_code is None:
        # Its lines go back to the cart, and so does the code they were to be paid with
        # (the summary says so if it no longer applies).
        await set_coupon(conn, cart_id, row.coupon_code)
    lines = (
        await conn.execute(
            select(order_lines)
            .where(order_lines.c.order_id == order_id)
            .order_by(order_lines.c.position)
        )
    ).all()
    await stock.give_back(conn, row.shop_id, lines)
    if row.coupon_code is not None:
        await coupons.release(conn, order_id, now)
    if lines:
        await conn.execute(
            cart_lines.insert(),
            [
                {
                    "cart_id": cart_id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "recipient_id": line.recipient_id,
                    "anonymous": line.anonymous,
                    "note": line.note,
                    "from_order_id": order_id,
                    # The price it was ordered at: a price changed since is flagged again.
                    "unit_price": line.unit_price,
                    "unit_currency": row.currency,
                    "created_at": now,
                }
                for line in lines
            ],
        )
    return True


async def _coupon_for(
    shop: ShopDefinition,
    conn: Conn,
    member_id: int,
    code: str | None,
    drafts: list[tuple[CartRow, CatalogItem]],
    now: datetime,
) -> tuple[coupons.Coupon | None, int]:
    """The cart's coupon, read again in checkout's transaction, and what it takes off
    the order's lines; refused with the member's reason when it no longer applies."""
    state = await load_coupon(conn, shop.shop_id, member_id, code)
    if state is None:
        return None, 0
    priced = [(item.sku, item.price.amount, row.quantity) for row, item in drafts]
    why, off = coupon_discount(shop, state, priced, now)
    if why is not None:
        raise InvalidInput(
            f"{why} Nothing was charged; remove the coupon from your cart to check out without it."
        )
    return state.coupon, off


class _Repriced(Exception):
    """Cart lines whose item's price changed since the member saw it: line id ->
    (the item now, the price the member saw)."""

    def __init__(self, lines: dict[int, tuple[CatalogItem, Money]]) -> None:
        super().__init__(sorted(lines))
        self.lines = lines


class _AlreadyCheckedOut(Exception):
    def __init__(self, order: Order) -> None:
        super().__init__(order.id)
        self.order = order


async def _order_by_key(conn: Conn, ctx: StoreContext, shop_id: int, key: str) -> Order | None:
    row = (
        await conn.execute(
            select(orders).where(orders.c.shop_id == shop_id, orders.c.checkout_key == key)
        )
    ).first()
    return None if row is None else await _materialize(conn, ctx, row)


async def _find(conn: Conn, ctx: StoreContext, order_id: int) -> Order | None:
    row = (await conn.execute(select(orders).where(orders.c.id == order_id))).first()
    if row is None:
        return None
    return await _materialize(conn, ctx, row)


async def load_order(conn: Conn, ctx: StoreContext, order_id: int) -> Order:
    order = await _find(conn, ctx, order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


async def _materialize(conn: Conn, ctx: StoreContext, row: Row[Any]) -> Order:
    currency = row.currency
    lines = (
        await conn.execute(
            select(order_lines)
            .where(order_lines.c.order_id == row.id)
            .order_by(order_lines.c.position)
        )
    ).all()
    return Order(
        id=int(row.id),
        shop_id=int(row.shop_id),
        buyer_id=int(row.buyer_id),
        state=OrderState(row.state),
        subtotal=Money(int(row.subtotal), currency),
        points_applied=int(row.points_applied),
        points_value=Money(int(row.points_value), currency),
        cash_due=Money(int(row.cash_due), currency),
        refunded=Money(int(row.refunded), currency),
        gateway=row.gateway,
        gateway_session_id=row.gateway_session_id,
        checkout_url=row.checkout_url,
        checkout_expires_at=row.checkout_expires_at,
        review_reason=row.review_reason,
        created_at=row.created_at,
        paid_at=row.paid_at,
        discount=Money(int(row.discount), currency),
        coupon_code=row.coupon_code,
        lines=tuple(
            OrderLine(
                id=int(line.id),
                sku=line.sku,
                kind=line.kind,
                name=line.name,
                quantity=int(line.quantity),
                unit_price=Money(int(line.unit_price), currency),
                recipient_id=int(line.recipient_id),
                anonymous=bool(line.anonymous),
                note=line.note,
                spec=dict(line.spec),
            )
            for line in lines
        ),
    )
