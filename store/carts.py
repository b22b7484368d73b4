"""Carts: one open cart per member; every operation answers with the summary.

Refusals raise a `StoreError` before anything is written, so a refused operation
changes nothing. The cart row is locked (FOR UPDATE on PostgreSQL, the writer
lock on SQLite) while lines change, so concurrent adds never lose a line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import BindParameter

from store import coupons, stock
from store.accounts import AccountBook
from store.batches import in_chunks
from store.catalog import CatalogItem
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import accounts, cart_lines, carts
from store.errors import CartFull, InvalidInput, NotFound
from store.kinds.base import LineDraft, MembershipState
from store.money import Money
from store.shops import ShopDefinition
from store.text import unstorable

#: Abandoned carts emptied per unit of work (see `Carts.purge_abandoned`).
PURGE_CHUNK = 500


@dataclass(frozen=True)
class CartLine:
    id: int
    sku: str
    name: str
    description: str
    quantity: int
    unit_price: Money
    recipient_id: int
    anonymous: bool
    note: str | None
    buyer_id: int
    #: The price the line was added at, when the item has been repriced since.
    was_price: Money | None = None
    #: Whether the item has been taken off sale (the line can't be checked out).
    retired: bool = False

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def is_gift(self) -> bool:
        return self.recipient_id != self.buyer_id


@dataclass(frozen=True)
class CartCoupon:
    """The coupon the member applied, as the cart stands now.

    Recomputed every time a summary is built: when the coupon no longer applies (the
    cart changed, it was retired, expired or used up) `discount` is zero and `problem`
    says why, so the member sees it before checkout refuses it.
    """

    code: str
    #: What it takes off ("20% off · on Gold only · …"); "" for a code the shop lost.
    text: str
    discount: Money
    problem: str | None = None


@dataclass(frozen=True)
class CartSummary:
    """What every reply shows: lines, how many items, the total to pay (after any
    coupon's discount: `subtotal` - `discount`)."""

    member_id: int
    lines: tuple[CartLine, ...]
    total: Money
    version: int
    #: Points the member could spend now (balance less reservations), for the reply.
    points_available: int = 0
    coupon: CartCoupon | None = None

    @property
    def discount(self) -> Money:
        return self.coupon.discount if self.coupon is not None else Money(0, self.total.currency)

    @property
    def subtotal(self) -> Money:
        """The lines' sum, before the coupon."""
        return self.total + self.discount

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class CartRow:
    id: int
    sku: str
    quantity: int
    recipient_id: int
    anonymous: bool
    note: str | None
    #: The unit price the member was shown (when added, or at a refused checkout),
    #: minor units of `noted_currency` (a moderator may change the shop's currency).
    noted_price: int | None = None
    noted_currency: str | None = None

    def repriced(self, item: CatalogItem) -> Money | None:
        """The price the member saw, when the item's price is no longer it."""
        if self.noted_price is None:
            return None  # added before prices were noted
        seen = Money(self.noted_price, self.noted_currency or item.price.currency)
        return None if seen == item.price else seen


@dataclass(frozen=True)
class CouponState:
    """The code a cart applies and what the summary needs to judge it (read only when
    the cart has a code: a cart without one costs no extra query)."""

    code: str
    coupon: coupons.Coupon | None
    member_uses: int = 0


async def load_coupon(
    conn: Conn, shop_id: int, member_id: int, code: str | None
) -> CouponState | None:
    """The cart's coupon as this transaction sees it; None (and no query) without a code."""
    if code is None:
        return None
    found = await coupons.get(conn, shop_id, code)
    used = 0
    if found is not None and found.per_member_limit is not None:
        used = await coupons.member_uses(conn, found.id, member_id)
    return CouponState(code, found, used)


def coupon_lines(shop: ShopDefinition, lines: Sequence[tuple[str, int, int]]) -> list[coupons.Line]:
    """(sku, unit price, quantity) as a coupon sees them: a subscription's line counts
    as costing nothing, so no coupon ever discounts it (its renewing charge would be
    discounted every period), and neither does a line whose item is no longer sold."""
    catalog = shop.catalog
    seen = []
    for sku, price, quantity in lines:
        item = catalog.get(sku)
        eligible = item is not None and catalog.renews_every(item) is None
        seen.append((sku, price if eligible else 0, quantity))
    return seen


def coupon_problem(
    shop: ShopDefinition,
    state: CouponState,
    lines: Sequence[tuple[str, int, int]],
    now: datetime,
) -> str | None:
    """Why the cart's coupon can't be used on these lines now (None when it can)."""
    found = state.coupon
    if found is None:
        return f"The code {state.code} is no longer valid."
    seen = coupon_lines(shop, lines)
    why = coupons.problem(
        found,
        now=now,
        subtotal=sum(price * quantity for _, price, quantity in lines),
        currency=shop.currency,
        member_uses=state.member_uses,
        lines=seen,
        locale=shop.locale,
        names=_names(shop, found),
    )
    renewing = any(
        price and not free for (_, price, _), (_, free, _) in zip(lines, seen, strict=True)
    )
    if why is not None and renewing and coupons.eligible_total(found, seen) <= 0:
        why += " Subscriptions are never discounted."
    return why


def coupon_discount(
    shop: ShopDefinition,
    state: CouponState,
    lines: Sequence[tuple[str, int, int]],
    now: datetime,
) -> tuple[str | None, int]:
    """(why the coupon can't be used on these lines now, 0), or (None, what it takes
    off them): the cart's summary and checkout judge it alike."""
    why = coupon_problem(shop, state, lines, now)
    if why is not None or state.coupon is None:
        return why, 0
    return None, coupons.discount(state.coupon, coupon_lines(shop, lines), shop.currency)


class CartLineContext:
    """LineContext for kinds: the cart's other lines and read access to memberships.

    Used when a line joins the cart and again at checkout.
    """

    def __init__(self, book: AccountBook, others: Sequence[LineDraft]) -> None:
        self._book = book
        self._others = others

    @property
    def other_lines(self) -> Sequence[LineDraft]:
        return self._others

    async def membership(self, member_id: int, tier: str) -> MembershipState | None:
        return await self._book.membership(member_id, tier)


class CartService:
    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def view(self, shop_id: int, member_id: int) -> CartSummary:

        async def view(conn: Conn) -> tuple[Sequence[Any], CouponState | None]:
            # One prepared statement for cart, lines and points: this runs on every reply.
            result = await conn.execute(_VIEW, {"shop_id": shop_id, "member_id": member_id})
            found = result.all()
            code = found[0].coupon_code if found else None
            return found, await load_coupon(conn, shop_id, member_id, code)

        shop = await self.ctx.shops.get(shop_id)
        found, coupon = await self.ctx.db.read(view)
        if not found:
            return self.summary(shop, member_id, [], 0, 0)
        points = int(found[0].points or 0)
        version = int(found[0].version) if found else 0
        rows = [_row(r) for r in found if r.id is not None]
        return self.summary(shop, member_id, rows, version, points, coupon)

    async def apply_coupon(self, shop_id: int, member_id: int, code: str) -> CartSummary:
        """Apply a coupon to the member's cart, replacing any other; checked now against
        the cart as it is, and refused (nothing stored) when it can't be used on it."""
        wanted = coupons.normalize_code(code)
        shop = await self.ctx.shops.get(shop_id)

        async def apply(conn: Conn) -> CartSummary:
            cart_id, version, _ = await lock_cart_row(conn, shop_id, member_id, self.ctx.now())
            rows = await load_lines(conn, cart_id)
            state = await load_coupon(conn, shop_id, member_id, wanted)
            assert state is not None
            if state.coupon is None:
                raise InvalidInput(f"There is no coupon {wanted} in this shop.")
            why = coupon_problem(shop, state, self._priced(shop, rows), self.ctx.now())
            if why is not None:
                raise InvalidInput(why)
            await set_coupon(conn, cart_id, wanted)
            points = await free_points(conn, shop_id, member_id)
            return self.summary(shop, member_id, rows, version, points, state)

        return await self.ctx.db.write(apply)

    async def remove_coupon(self, shop_id: int, member_id: int) -> CartSummary:
        """Take the applied coupon off the cart; refused when there is none."""
        shop = await self.ctx.shops.get(shop_id)

        async def remove(conn: Conn) -> CartSummary:
            cart_id, version, code = await lock_cart_row(conn, shop_id, member_id, self.ctx.now())
            if code is None:
                raise InvalidInput("Your cart has no coupon to remove.")
            await set_coupon(conn, cart_id, None)
            rows = await load_lines(conn, cart_id)
            points = await free_points(conn, shop_id, member_id)
            return self.summary(shop, member_id, rows, version, points)

        return await self.ctx.db.write(remove)

    async def units_left(self, shop_id: int) -> dict[str, int]:
        """Units left of each stocked item of the shop; asks nothing without stock."""
        catalog = (await self.ctx.shops.get(shop_id)).catalog
        if not catalog.has_stock:
            return {}
        return await self.ctx.db.read(lambda conn: stock.remaining(conn, shop_id, catalog))

    async def sold_out(self, shop_id: int) -> frozenset[str]:
        """SKUs with no stock left in the shop, for /shop."""
        left = await self.units_left(shop_id)
        return frozenset(sku for sku, units in left.items() if units <= 0)

    async def add(
        self,
        shop_id: int,
        member_id: int,
        sku: str,
        *,
        quantity: int = 1,
        recipient_id: int | None = None,
        anonymous: bool = False,
        note: str | None = None,
    ) -> CartSummary:
        shop = await self.ctx.shops.get(shop_id)
        item = shop.catalog.require(sku)
        recipient = member_id if recipient_id is None else recipient_id
        note = _clean_note(note)
        self._check_line(shop, item, quantity, member_id, recipient, anonymous, note)

        async def add(conn: Conn) -> CartSummary:
            now = self.ctx.now()
            cart_id, version, code = await lock_cart_row(conn, shop_id, member_id, now)
            rows = await load_lines(conn, cart_id)
            same = next(
                (
                    row
                    for row in rows
                    if row.sku == sku
                    and row.recipient_id == recipient
                    and row.anonymous == anonymous
                    and row.note == note
                ),
                None,
            )
            new_quantity = quantity + (same.quantity if same else 0)
            if same is not None and new_quantity > item.max_quantity:
                raise InvalidInput(
                    f"You can have at most {item.max_quantity} of {item.name} in one line; "
                    f"the cart already has {same.quantity}."
                )
            if same is None and len(rows) >= self.ctx.config.cart_line_limit:
                raise CartFull(
                    f"Your cart is full ({self.ctx.config.cart_line_limit} lines). "
                    "Check out or remove a line first."
                )
            if item.limited:
                in_cart = quantity + sum(row.quantity for row in rows if row.sku == sku)
                await stock.check_add(conn, shop_id, member_id, item, in_cart)
            others = [draft(shop, row, member_id) for row in rows if row is not same]
            line = LineDraft(item.sku, item.spec, new_quantity, member_id, recipient)
            book = AccountBook(conn, shop_id, now, shop.tiers)
            await shop.catalog.kind_of(item).validate_line(line, CartLineContext(book, others))
            price = item.price
            if same is not None:
                # The line keeps the price it was added at: a price changed since stays
                # flagged, and checkout still names it before charging it.
                await conn.execute(
                    _SET_QUANTITY, {"line_id": same.id, "new_quantity": new_quantity}
                )
                rows = [replace(r, quantity=new_quantity) if r is same else r for r in rows]
            else:
                result = await conn.execute(
                    _INSERT_LINE,
                    {
                        "cart_id": cart_id,
                        "sku": sku,
                        "quantity": quantity,
                        "recipient_id": recipient,
                        "anonymous": anonymous,
                        "note": note,
                        "unit_price": price.amount,
                        "unit_currency": price.currency,
                        "created_at": now,
                    },
                )
                rows.append(
                    CartRow(
                        result.scalar_one(),
                        sku,
                        quantity,
                        recipient,
                        anonymous,
                        note,
                        price.amount,
                        price.currency,
                    )
                )
            points = await free_points(conn, shop_id, member_id)
            coupon = await load_coupon(conn, shop_id, member_id, code)
            return self.summary(shop, member_id, rows, version, points, coupon)

        return await self.ctx.db.write(add)

    async def remove(self, shop_id: int, member_id: int, line_id: int) -> CartSummary:
        if not isinstance(line_id, int) or not 0 < line_id < 2**63:
            raise NotFound("That line is not in your cart (it may have been removed already).")

        shop = await self.ctx.shops.get(shop_id)

        async def remove(conn: Conn) -> CartSummary:
            now = self.ctx.now()
            cart_id, version, code = await lock_cart_row(conn, shop_id, member_id, now)
            result = await conn.execute(_DELETE_LINE, {"line_id": line_id, "cart_id": cart_id})
            if result.rowcount != 1:
                # Someone else's line id looks exactly like a missing one.
                raise NotFound("That line is not in your cart (it may have been removed already).")
            rows = await load_lines(conn, cart_id)
            points = await free_points(conn, shop_id, member_id)
            coupon = await load_coupon(conn, shop_id, member_id, code)
            return self.summary(shop, member_id, rows, version, points, coupon)

        return await self.ctx.db.write(remove)

    async def clear(self, shop_id: int, member_id: int) -> CartSummary:
        """Empty the cart, its coupon included (an empty cart has nothing to discount)."""
        shop = await self.ctx.shops.get(shop_id)

        async def clear(conn: Conn) -> CartSummary:
            cart_id, version, code = await lock_cart_row(conn, shop_id, member_id, self.ctx.now())
            await conn.execute(delete(cart_lines).where(cart_lines.c.cart_id == cart_id))
            if code is not None:
                await set_coupon(conn, cart_id, None)
            points = await free_points(conn, shop_id, member_id)
            return self.summary(shop, member_id, [], version, points)

        return await self.ctx.db.write(clear)

    async def purge_abandoned(self, older_than: datetime, chunk: int = PURGE_CHUNK) -> int:
        """Empty carts untouched since `older_than`; returns how many lines went.

        `chunk` carts per unit of work, in id order, with a turn of the loop between
        units: on SQLite a unit holds the event loop, and one statement over every
        abandoned cart of a large shop would hold every member's interaction with it.
        Only carts that still have lines are picked: an emptied cart keeps its old
        updated_at, and every later run would read it again.

        The delete repeats the staleness test: on PostgreSQL a `/cart add` may commit
        between the pick and the delete (its upsert refreshes updated_at), and its new
        line must stay. The pick also locks the carts (SKIP LOCKED: one being changed
        right now is not abandoned), so such an add waits for this unit instead.
        """
        after = 0
        removed = 0

        async def purge(conn: Conn) -> tuple[int, int, int]:
            has_lines = select(cart_lines.c.id).where(cart_lines.c.cart_id == carts.c.id).exists()
            ids = (
                (
                    await conn.execute(
                        select(carts.c.id)
                        .where(carts.c.id > after, carts.c.updated_at < older_than, has_lines)
                        .order_by(carts.c.id)
                        .limit(chunk)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return 0, 0, after
            still_stale = select(carts.c.id).where(
                carts.c.id.in_(ids), carts.c.updated_at < older_than
            )
            result = await conn.execute(
                delete(cart_lines).where(cart_lines.c.cart_id.in_(still_stale))
            )
            return int(result.rowcount), len(ids), int(ids[-1])

        async def unit() -> int:
            nonlocal after, removed
            lines, picked, after = await self.ctx.db.write(purge)
            removed += lines
            return picked

        await in_chunks(unit, chunk)
        return removed

    # ---- helpers ------------------------------------------------------------

    def _check_line(
        self,
        shop: ShopDefinition,
        item: CatalogItem,
        quantity: int,
        buyer: int,
        recipient: int,
        anonymous: bool,
        note: str | None,
    ) -> None:
        problem = item.window_problem(self.ctx.now())
        if problem is not None:
            raise InvalidInput(problem)
        if not 1 <= quantity <= item.max_quantity:
            raise InvalidInput(
                f"Quantity for {item.name} must be between 1 and {item.max_quantity}."
            )
        gift = recipient != buyer
        if gift and not item.giftable:
            if shop.catalog.renews_every(item) is not None:
                raise InvalidInput(
                    "A subscription renews on the buyer's own payment, so it can't be a "
                    "gift; gift one-off time instead."
                )
            raise InvalidInput(f"{item.name} can't be given as a gift.")
        if anonymous and not gift:
            raise InvalidInput("Only gifts to another member can be anonymous.")
        limit = self.ctx.config.gift_note_max
        if note is not None and not gift:
            raise InvalidInput("A note can only go with a gift to another member.")
        if note is not None and len(note) > limit:
            raise InvalidInput(
                f"A gift note can be at most {limit} characters (this one is {len(note)})."
            )
        bad = unstorable(note or "")
        if bad is not None:
            raise InvalidInput(
                f"A gift note can't contain control characters (it has {bad}); "
                "remove it and try again."
            )

    def summary(
        self,
        shop: ShopDefinition,
        member_id: int,
        rows: Sequence[CartRow],
        version: int,
        points: int = 0,
        coupon: CouponState | None = None,
    ) -> CartSummary:
        """The cart as replies show it; with a coupon, its discount recomputed now."""
        catalog = shop.catalog
        lines = []
        for row in rows:
            item = catalog.get(row.sku)
            was: Money | None = None
            if item is None:
                # Withdrawn from the catalog: shown at no price until removed.
                name = shop.retired_name(row.sku)
                description, price = "No longer sold", shop.money(0)
            else:
                name, description, price = (
                    item.name,
                    catalog.describe(item, row.quantity),
                    item.price,
                )
                was = row.repriced(item)
            lines.append(
                CartLine(
                    id=row.id,
                    sku=row.sku,
                    name=name,
                    description=description,
                    quantity=row.quantity,
                    unit_price=price,
                    recipient_id=row.recipient_id,
                    anonymous=row.anonymous,
                    note=row.note,
                    buyer_id=member_id,
                    was_price=was,
                    retired=item is None,
                )
            )
        total = sum((line.total for line in lines), shop.money(0))
        if coupon is None:
            return CartSummary(member_id, tuple(lines), total, version, points)
        applied = self._coupon(shop, coupon, lines)
        return CartSummary(
            member_id, tuple(lines), total - applied.discount, version, points, applied
        )

    def _coupon(
        self, shop: ShopDefinition, state: CouponState, lines: Sequence[CartLine]
    ) -> CartCoupon:
        priced = [(line.sku, line.unit_price.amount, line.quantity) for line in lines]
        why, off = coupon_discount(shop, state, priced, self.ctx.now())
        found = state.coupon
        text = "" if found is None else found.describe(shop.locale, _names(shop, found))
        return CartCoupon(state.code, text, shop.money(off), why)

    @staticmethod
    def _priced(shop: ShopDefinition, rows: Sequence[CartRow]) -> list[tuple[str, int, int]]:
        """Rows at today's prices (a retired item's line at none), as coupons see them."""
        priced = []
        for row in rows:
            item = shop.catalog.get(row.sku)
            priced.append((row.sku, 0 if item is None else item.price.amount, row.quantity))
        return priced


def _names(shop: ShopDefinition, coupon: coupons.Coupon) -> dict[str, str]:
    return {sku: item.name for sku in coupon.skus if (item := shop.catalog.get(sku)) is not None}


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    stripped = note.strip()
    return stripped or None


def draft(shop: ShopDefinition, row: CartRow, buyer: int) -> LineDraft:
    """A cart line as the item kinds see it (a retired item's line has no spec)."""
    item = shop.catalog.get(row.sku)
    spec: dict[str, Any] = dict(item.spec) if item else {}
    return LineDraft(row.sku, spec, row.quantity, buyer, row.recipient_id)


def _row(r: Any) -> CartRow:
    price = None if r.unit_price is None else int(r.unit_price)
    return CartRow(
        int(r.id),
        r.sku,
        int(r.quantity),
        int(r.recipient_id),
        bool(r.anonymous),
        r.note,
        price,
        r.unit_currency,
    )


async def load_lines(conn: Conn, cart_id: int) -> list[CartRow]:
    result = await conn.execute(_LINES, {"cart_id": cart_id})
    return [_row(r) for r in result]


async def note_prices(conn: Conn, prices: Mapping[int, Money]) -> None:
    """Record that the member has been shown these lines' current prices."""
    await conn.execute(
        update(cart_lines)
        .where(cart_lines.c.id == bindparam("line_id"))
        .values(unit_price=bindparam("price"), unit_currency=bindparam("currency")),
        [
            {"line_id": line_id, "price": price.amount, "currency": price.currency}
            for line_id, price in prices.items()
        ],
    )


async def lock_cart_row(
    conn: Conn, shop_id: int, member_id: int, now: datetime
) -> tuple[int, int, str | None]:
    """Create the member's cart if needed, lock it and count a change, in one statement.

    Returns (id, version after this change, the coupon code the cart applies or None).
    INSERT … ON CONFLICT DO UPDATE takes the row lock on PostgreSQL as SELECT … FOR
    UPDATE would; on SQLite the writer lock already serializes writers. A refused
    change rolls back, version bump included.
    """
    parameters = {"shop_id": shop_id, "member_id": member_id, "now": now}
    row = (await conn.execute(_LOCK_CART[conn.dialect.name], parameters)).one()
    return int(row.id), int(row.version), row.coupon_code


async def set_coupon(conn: Conn, cart_id: int, code: str | None) -> None:
    """Apply `code` to the locked cart, or take its coupon off (None)."""
    await conn.execute(update(carts).where(carts.c.id == cart_id).values(coupon_code=code))


async def free_points(conn: Conn, shop_id: int, member_id: int) -> int:
    parameters = {"shop_id": shop_id, "member_id": member_id}
    row = (await conn.execute(_FREE_POINTS, parameters)).first()
    return int(row[0]) if row else 0


_SHOP: BindParameter[int] = bindparam("shop_id")
_MEMBER: BindParameter[int] = bindparam("member_id")
_LINE_COLUMNS = (
    cart_lines.c.id,
    cart_lines.c.sku,
    cart_lines.c.quantity,
    cart_lines.c.recipient_id,
    cart_lines.c.anonymous,
    cart_lines.c.note,
    cart_lines.c.unit_price,
    cart_lines.c.unit_currency,
)
_VIEW = (
    select(
        carts.c.version,
        carts.c.coupon_code,
        *_LINE_COLUMNS,
        select(accounts.c.points - accounts.c.points_reserved)
        .where(accounts.c.shop_id == _SHOP, accounts.c.member_id == _MEMBER)
        .scalar_subquery()
        .label("points"),
    )
    .select_from(carts.outerjoin(cart_lines, cart_lines.c.cart_id == carts.c.id))
    .where(carts.c.shop_id == _SHOP, carts.c.member_id == _MEMBER)
    .order_by(cart_lines.c.id)
)

# The hot path's statements, built once: a statement built per call costs more to
# build and to look up in the compiled cache than SQLite takes to run it.
_LINES = (
    select(*_LINE_COLUMNS)
    .where(cart_lines.c.cart_id == bindparam("cart_id"))
    .order_by(cart_lines.c.id)
)
_FREE_POINTS = select(accounts.c.points - accounts.c.points_reserved).where(
    accounts.c.shop_id == _SHOP, accounts.c.member_id == _MEMBER
)
_SET_QUANTITY = (
    update(cart_lines)
    .where(cart_lines.c.id == bindparam("line_id"))
    .values(quantity=bindparam("new_quantity"))
)
_INSERT_LINE = cart_lines.insert().returning(cart_lines.c.id)
_DELETE_LINE = delete(cart_lines).where(
    and_(cart_lines.c.id == bindparam("line_id"), cart_lines.c.cart_id == bindparam("cart_id"))
)


def _lock_cart_statement(insert: Any) -> Any:
    now = bindparam("now", type_=carts.c.updated_at.type)
    statement = insert(carts).values(shop_id=_SHOP, member_id=_MEMBER, version=1, updated_at=now)
    return statement.on_conflict_do_update(
        index_elements=["shop_id", "member_id"],
        set_={"version": carts.c.version + 1, "updated_at": now},
    ).returning(carts.c.id, carts.c.version, carts.c.coupon_code)


_LOCK_CART = {
    "postgresql": _lock_cart_statement(postgresql.insert),
    "sqlite": _lock_cart_statement(sqlite.insert),
}
