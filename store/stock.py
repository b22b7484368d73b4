"""Limited stock and per-member limits, checked where units change hands.

Stock is reserved by checkout, inside its unit of work, with one conditional UPDATE
(``remaining >= quantity``): on PostgreSQL the row lock makes a second checkout
re-read the row after the first commits, on SQLite the writer lock serializes them,
so concurrent checkouts never sell more than there is. A lapsed order gives its units
back (`give_back`, called from the one place orders end unpaid); a paid one keeps
them; a lapsed order paid after all takes them again (`take_again`), even below zero:
the money is in, and the shop owes the units.

The `item_stock` row is made from the configured stock the first time an item is
sold in a shop; later edits to the configured number do not change a seeded row.

Items without a stock or a per-member limit never reach this module, so the hot
path asks the database nothing more than it did before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update

from store.catalog import CatalogItem
from store.db.engine import Conn
from store.db.schema import item_stock, order_lines, orders
from store.db.sql import insert_ignore
from store.errors import InvalidInput

#: Order states whose units no longer count against a member's limit: never paid, or
#: their money went back. Every other state (pending, held, paid…) counts.
UNCOUNTED_STATES = ("expired", "cancelled", "failed", "refunded", "charged_back")


async def remaining(conn: Conn, shop_id: int, items: Iterable[CatalogItem]) -> dict[str, int]:
    """Units left of each stocked item (the configured stock when never sold here)."""
    stocked = {item.sku: item.stock for item in items if item.stock is not None}
    if not stocked:
        return {}
    rows = await conn.execute(
        select(item_stock.c.sku, item_stock.c.remaining).where(
            item_stock.c.shop_id == shop_id, item_stock.c.sku.in_(list(stocked))
        )
    )
    left: dict[str, int] = {sku: int(stock) for sku, stock in stocked.items()}
    left.update({str(row.sku): int(row.remaining) for row in rows})
    return left


async def bought(conn: Conn, shop_id: int, member_id: int, sku: str) -> int:
    """Units of `sku` the member has bought in orders that still count."""
    total = await conn.execute(_BOUGHT, {"shop_id": shop_id, "member_id": member_id, "sku": sku})
    return int(total.scalar_one() or 0)


async def check_add(
    conn: Conn, shop_id: int, member_id: int, item: CatalogItem, in_cart: int
) -> None:
    """Refuse a cart holding `in_cart` units of a limited item it could not buy now."""
    if item.stock is not None:
        left = (await remaining(conn, shop_id, [item]))[item.sku]
        if left <= 0:
            raise InvalidInput(f"{item.name} is sold out.")
        if in_cart > left:
            raise InvalidInput(
                f"Only {left} of {item.name} {'is' if left == 1 else 'are'} left; "
                f"your cart would hold {in_cart}."
            )
    await _check_limit(conn, shop_id, member_id, item, in_cart)


async def reserve(
    conn: Conn, shop_id: int, member_id: int, wanted: Mapping[str, tuple[CatalogItem, int]]
) -> None:
    """At checkout: refuse what breaks a limit, else take the stocked units.

    `wanted` maps each limited SKU of the order to its item and total quantity. A
    refusal raises, and the checkout's unit of work rolls back every unit taken.
    SKUs are taken in order so two checkouts never lock rows in opposite orders.
    """
    for sku in sorted(wanted):
        item, quantity = wanted[sku]
        await _check_limit(conn, shop_id, member_id, item, quantity, at_checkout=True)
        if item.stock is None:
            continue
        await insert_ignore(
            conn,
            item_stock,
            {"shop_id": shop_id, "sku": sku, "remaining": item.stock},
            conflict=["shop_id", "sku"],
        )
        taken = await conn.execute(_TAKE, {"in_shop": shop_id, "of_sku": sku, "wanted": quantity})
        if taken.rowcount != 1:
            left = (await remaining(conn, shop_id, [item]))[sku]
            if left <= 0:
                raise InvalidInput(
                    f"{item.name} sold out since you added it; remove it from your cart "
                    "to check out."
                )
            raise InvalidInput(
                f"Only {left} of {item.name} {'is' if left == 1 else 'are'} left now; "
                f"lower the quantity in your cart (it has {quantity}) to check out."
            )


async def give_back(conn: Conn, shop_id: int, lines: Sequence[Any]) -> None:
    """A lapsed order's held units return to the stock (`lines`: its order_lines rows)."""
    await _move_units(conn, shop_id, [line for line in lines if line.stock_held], +1, False)


async def take_again(conn: Conn, shop_id: int, order_id: int) -> None:
    """A lapsed order paid after all takes back the units its lapse gave back."""
    lines = (
        await conn.execute(
            select(order_lines.c.id, order_lines.c.sku, order_lines.c.quantity).where(
                order_lines.c.order_id == order_id, order_lines.c.stock_held.is_(False)
            )
        )
    ).all()
    await _move_units(conn, shop_id, lines, -1, True)


async def _move_units(
    conn: Conn, shop_id: int, lines: Collection[Any], sign: int, held: bool
) -> None:
    for line in sorted(lines, key=lambda line: str(line.sku)):
        await conn.execute(
            update(item_stock)
            .where(item_stock.c.shop_id == shop_id, item_stock.c.sku == line.sku)
            .values(remaining=item_stock.c.remaining + sign * int(line.quantity))
        )
        await conn.execute(
            update(order_lines).where(order_lines.c.id == line.id).values(stock_held=held)
        )


async def _check_limit(
    conn: Conn,
    shop_id: int,
    member_id: int,
    item: CatalogItem,
    quantity: int,
    *,
    at_checkout: bool = False,
) -> None:
    limit = item.per_member_limit
    if limit is None:
        return
    already = await bought(conn, shop_id, member_id, item.sku)
    if already + quantity <= limit:
        return
    had = f"; you have already bought {already}" if already else ""
    where = "this order would make" if at_checkout else "your cart would make"
    raise InvalidInput(
        f"Each member can buy at most {limit} of {item.name} in all{had}, and "
        f"{where} {already + quantity}."
    )


_BOUGHT = (
    select(func.sum(order_lines.c.quantity))
    .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
    .where(
        orders.c.shop_id == bindparam("shop_id"),
        orders.c.buyer_id == bindparam("member_id"),
        order_lines.c.sku == bindparam("sku"),
        orders.c.state.not_in(UNCOUNTED_STATES),
    )
)
_TAKE = (
    update(item_stock)
    .where(
        and_(
            item_stock.c.shop_id == bindparam("in_shop"),
            item_stock.c.sku == bindparam("of_sku"),
            item_stock.c.remaining >= bindparam("wanted"),
        )
    )
    .values(remaining=item_stock.c.remaining - bindparam("wanted"))
)
