"""Carts: one open cart per member; every operation answers with the summary.

Refusals raise a `StoreError` before anything is written, so a refused operation
changes nothing. The cart row is locked (FOR UPDATE on PostgreSQL, the writer
lock on SQLite) while lines change, so concurrent adds never lose a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import BindParameter

from store import stock
from store.accounts import AccountBook
from store.batches import in_chunks
from store.catalog import CatalogItem
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import accounts, cart_lines, carts
from store.errors import CartFull, InvalidInput, NotFound
from store.kinds.base import LineDraft, MembershipState
from store.money import Money
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

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def is_gift(self) -> bool:
        return self.recipient_id != self.buyer_id


@dataclass(frozen=True)
class CartSummary:
    """What every reply shows: lines, how many items, the total."""

    member_id: int
    lines: tuple[CartLine, ...]
    total: Money
    version: int
    #: Points the member could spend now (balance less reservations), for the reply.
    points_available: int = 0

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

        async def view(conn: Conn) -> Sequence[Any]:
            # One prepared statement for cart, lines and points: this runs on every reply.
            result = await conn.execute(_VIEW, {"shop_id": shop_id, "member_id": member_id})
            return result.all()

        found = await self.ctx.db.read(view)
        if not found:
            return self.summary(member_id, [], 0, 0)
        points = int(found[0].points or 0)
        version = int(found[0].version) if found else 0
        rows = [
            CartRow(
                int(r.id), r.sku, int(r.quantity), int(r.recipient_id), bool(r.anonymous), r.note
            )
            for r in found
            if r.id is not None
        ]
        return self.summary(member_id, rows, version, points)

    async def sold_out(self, shop_id: int) -> frozenset[str]:
        """SKUs with no stock left in the shop, for /shop; asks nothing without stock."""
        catalog = self.ctx.catalog
        if not catalog.has_stock:
            return frozenset()
        left = await self.ctx.db.read(lambda conn: stock.remaining(conn, shop_id, catalog))
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
        item = self.ctx.catalog.require(sku)
        recipient = member_id if recipient_id is None else recipient_id
        note = _clean_note(note)
        self._check_line(item, quantity, member_id, recipient, anonymous, note)

        async def add(conn: Conn) -> CartSummary:
            cart_id, version = await lock_cart(conn, shop_id, member_id, self.ctx.now())
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
            others = [self.draft(row, member_id) for row in rows if row is not same]
            draft = LineDraft(item.sku, item.spec, new_quantity, member_id, recipient)
            book = AccountBook(conn, shop_id, self.ctx.now(), self.ctx.tiers)
            await self.ctx.catalog.kind_of(item).validate_line(draft, CartLineContext(book, others))
            now = self.ctx.now()
            if same is not None:
                await conn.execute(
                    _SET_QUANTITY, {"line_id": same.id, "new_quantity": new_quantity}
                )
                rows = [
                    CartRow(r.id, r.sku, new_quantity, r.recipient_id, r.anonymous, r.note)
                    if r is same
                    else r
                    for r in rows
                ]
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
                        "created_at": now,
                    },
                )
                rows.append(CartRow(result.scalar_one(), sku, quantity, recipient, anonymous, note))
            points = await free_points(conn, shop_id, member_id)
            return self.summary(member_id, rows, version, points)

        return await self.ctx.db.write(add)

    async def remove(self, shop_id: int, member_id: int, line_id: int) -> CartSummary:
        if not isinstance(line_id, int) or not 0 < line_id < 2**63:
            raise NotFound("That line is not in your cart (it may have been removed already).")

        async def remove(conn: Conn) -> CartSummary:
            cart_id, version = await lock_cart(conn, shop_id, member_id, self.ctx.now())
            result = await conn.execute(_DELETE_LINE, {"line_id": line_id, "cart_id": cart_id})
            if result.rowcount != 1:
                # Someone else's line id looks exactly like a missing one.
                raise NotFound("That line is not in your cart (it may have been removed already).")
            rows = await load_lines(conn, cart_id)
            points = await free_points(conn, shop_id, member_id)
            return self.summary(member_id, rows, version, points)

        return await self.ctx.db.write(remove)

    async def clear(self, shop_id: int, member_id: int) -> CartSummary:
        async def clear(conn: Conn) -> CartSummary:
            cart_id, version = await lock_cart(conn, shop_id, member_id, self.ctx.now())
            await conn.execute(delete(cart_lines).where(cart_lines.c.cart_id == cart_id))
            points = await free_points(conn, shop_id, member_id)
            return self.summary(member_id, [], version, points)

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
            if self.ctx.catalog.renews_every(item) is not None:
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

    def draft(self, row: CartRow, buyer: int) -> LineDraft:
        item = self.ctx.catalog.get(row.sku)
        spec: dict[str, Any] = dict(item.spec) if item else {}
        return LineDraft(row.sku, spec, row.quantity, buyer, row.recipient_id)

    def summary(
        self, member_id: int, rows: Sequence[CartRow], version: int, points: int = 0
    ) -> CartSummary:
        catalog = self.ctx.catalog
        lines = []
        for row in rows:
            item = catalog.get(row.sku)
            if item is None:
                # Withdrawn from the catalog: shown at no price until removed.
                name, description, price = row.sku, "No longer sold", self.ctx.money(0)
            else:
                name, description, price = (
                    item.name,
                    catalog.describe(item, row.quantity),
                    item.price,
                )
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
                )
            )
        total = sum((line.total for line in lines), self.ctx.money(0))
        return CartSummary(member_id, tuple(lines), total, version, points)


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    stripped = note.strip()
    return stripped or None


async def load_lines(conn: Conn, cart_id: int) -> list[CartRow]:
    result = await conn.execute(_LINES, {"cart_id": cart_id})
    return [
        CartRow(int(r.id), r.sku, int(r.quantity), int(r.recipient_id), bool(r.anonymous), r.note)
        for r in result
    ]


async def lock_cart(conn: Conn, shop_id: int, member_id: int, now: datetime) -> tuple[int, int]:
    """Create the member's cart if needed, lock it and count a change, in one statement.

    Returns (id, version after this change). INSERT … ON CONFLICT DO UPDATE takes the
    row lock on PostgreSQL as SELECT … FOR UPDATE would; on SQLite the writer lock
    already serializes writers. A refused change rolls back, version bump included.
    """
    parameters = {"shop_id": shop_id, "member_id": member_id, "now": now}
    row = (await conn.execute(_LOCK_CART[conn.dialect.name], parameters)).one()
    return int(row.id), int(row.version)


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
)
_VIEW = (
    select(
        carts.c.version,
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
    ).returning(carts.c.id, carts.c.version)


_LOCK_CART = {
    "postgresql": _lock_cart_statement(postgresql.insert),
    "sqlite": _lock_cart_statement(sqlite.insert),
}
