"""Discount codes: what a coupon takes off, whether it applies, and counting its uses.

A shop's moderators create coupons; members apply one to their cart, and checkout
checks it again (`problem`) and takes one use (`hold`) inside its own unit of work.
The use is one conditional UPDATE (``uses < max_uses``), the same shape as
store.stock's reservation: on PostgreSQL the row lock makes a second checkout
re-read the coupon after the first commits, on SQLite the writer lock serializes
them, so concurrent checkouts never use a coupon more than it allows. A lapsed or
refunded order gives its use back (`release`); a lapsed order paid after all takes
it again (`take_again`), past `max_uses` if need be: the money is in.

`uses` counts the uses held by orders, paid or not yet, that have not given theirs
back; a member's uses are counted from `coupon_uses` the same way.

Amounts are integer minor units of the currency the shop had when the coupon was
made; a shop that changed currency since treats the coupon as no longer valid.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import and_, func, or_, select, update

from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import coupon_uses, coupons
from store.db.sql import insert_ignore
from store.errors import InvalidInput, validation_parts
from store.money import Money, normalize_currency

CouponKind = Literal["percent", "fixed"]
#: A cart or order line as coupons see it: (sku, unit price in minor units, quantity).
Line = tuple[str, int, int]

_CODE = re.compile(r"[A-Z0-9_-]{3,32}")
_SKU = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


def normalize_code(text: str) -> str:
    """The stored form of a code: members may type it in any case, with spaces around."""
    code = text.strip().upper()
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            "A coupon code is 3 to 32 characters: letters, digits, - and _ "
            f"(got {text.strip()[:40]!r})."
        )
    return code


@dataclass(frozen=True)
class Coupon:
    """One coupon as stored; times are aware UTC, amounts minor units of `currency`."""

    id: int
    shop_id: int
    code: str
    kind: CouponKind
    #: Percent off (1..100), or minor units off for a fixed coupon.
    amount: int
    currency: str
    min_order: int
    #: The SKUs it applies to; empty: the whole order.
    skus: tuple[str, ...]
    max_uses: int | None
    per_member_limit: int | None
    uses: int
    expires_at: datetime | None
    retired_at: datetime | None
    created_by: int
    created_at: datetime

    def describe(self, locale: str = "en_US", names: Mapping[str, str] | None = None) -> str:
        """One line for moderators' lists and members' carts, e.g. "20% off · on Gold
        month only · 3 of 100 used · expires 2026-12-31" (`names`: item names by SKU)."""
        off = self.off_text(locale)
        if self.min_order:
            off += f" orders of {Money(self.min_order, self.currency).format(locale)} or more"
        parts = [off]
        if self.skus:
            parts.append(f"on {_items(self.skus, names)} only")
        if self.per_member_limit is not None:
            times = "once" if self.per_member_limit == 1 else f"{self.per_member_limit} times"
            parts.append(f"{times} per member")
        if self.max_uses is not None:
            parts.append(f"{self.uses} of {self.max_uses} used")
        else:
            parts.append(f"{self.uses} used")
        if self.retired_at is not None:
            parts.append(f"retired {self.retired_at:%Y-%m-%d}")
        elif self.expires_at is not None:
            parts.append(f"expires {self.expires_at:%Y-%m-%d}")
        return " · ".join(parts)

    def applies_to(self, sku: str) -> bool:
        """Whether the coupon discounts this item (every item when it names none)."""
        return _applies(self, sku)

    def off_text(self, locale: str = "en_US") -> str:
        """ "20% off" or "$5.00 off"."""
        if self.kind == "percent":
            return f"{self.amount}% off"
        return f"{Money(self.amount, self.currency).format(locale)} off"


class CouponSpec(BaseModel):
    """What a moderator asks for when creating a coupon (amounts in minor units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    kind: CouponKind
    amount: int
    min_order: int = Field(default=0, ge=0)
    skus: tuple[str, ...] = ()
    max_uses: int | None = Field(default=None, ge=1)
    per_member_limit: int | None = Field(default=None, ge=1)
    expires_at: AwareDatetime | None = None

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> CouponSpec:
        """Validate a moderator's input; a refusal is one InvalidInput naming each field."""
        try:
            return cls.model_validate(dict(fields))
        except ValidationError as error:
            raise InvalidInput(_describe(error)) from None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be text")
        try:
            return normalize_code(value)
        except InvalidInput as refusal:
            raise ValueError(refusal.message) from None

    @field_validator("skus", mode="before")
    @classmethod
    def _skus(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Collection):
            raise ValueError("must be a list of item SKUs")
        skus: list[str] = []
        for sku in value:
            if not isinstance(sku, str) or not _SKU.fullmatch(sku.strip()):
                raise ValueError(f"{str(sku)[:40]!r} is not an item SKU")
            if sku.strip() not in skus:
                skus.append(sku.strip())
        return tuple(skus)

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _amount(self) -> CouponSpec:
        if self.kind == "percent" and not 1 <= self.amount <= 100:
            raise ValueError("a percent coupon takes 1 to 100 percent off")
        if self.kind == "fixed" and self.amount <= 0:
            raise ValueError("a fixed coupon takes a positive amount off")
        return self


def eligible_total(coupon: Coupon, lines: Sequence[Line]) -> int:
    """What the lines the coupon applies to come to."""
    return sum(price * quantity for sku, price, quantity in lines if _applies(coupon, sku))


def discount(coupon: Coupon, lines: Sequence[Line], currency: str) -> int:
    """Minor units the coupon takes off `lines`: percent rounds down, a fixed amount
    never exceeds what it applies to; 0 in another currency or when nothing applies."""
    if currency != coupon.currency and coupon.kind != "percent":
        return 0
    base = eligible_total(coupon, lines)
    if base <= 0:
        return 0
    if coupon.kind == "percent":
        return base * coupon.amount // 100
    return min(coupon.amount, base)


def problem(
    coupon: Coupon,
    *,
    now: datetime,
    subtotal: int,
    currency: str,
    member_uses: int,
    lines: Sequence[Line],
    locale: str = "en_US",
    names: Mapping[str, str] | None = None,
) -> str | None:
    """Why the coupon can't be used on this order now, as a member should read it, or
    None when it can. `subtotal` is the whole order's, before any discount."""
    code = coupon.code
    if coupon.retired_at is not None:
        return f"The code {code} is no longer valid."
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return f"The code {code} expired on {coupon.expires_at:%Y-%m-%d}."
    if currency != coupon.currency and (coupon.kind != "percent" or coupon.min_order):
        # Its amounts were in the shop's old currency; a plain percentage still holds.
        return f"The code {code} is no longer valid."
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        return f"The code {code} has been used up."
    if coupon.per_member_limit is not None and member_uses >= coupon.per_member_limit:
        if coupon.per_member_limit == 1:
            return f"You have already used the code {code}; it is good once per member."
        return (
            f"You have already used the code {code} {member_uses} times, "
            f"as many as it allows per member."
        )
    if subtotal < coupon.min_order:
        least = Money(coupon.min_order, currency).format(locale)
        return (
            f"The code {code} needs an order of at least {least}; "
            f"yours comes to {Money(subtotal, currency).format(locale)}."
        )
    if eligible_total(coupon, lines) <= 0:
        if coupon.skus:
            return (
                f"The code {code} applies only to {_items(coupon.skus, names)}, "
                "and your cart has none."
            )
        return f"The code {code} has nothing in your cart to apply to."
    if discount(coupon, lines, currency) <= 0:
        return f"The code {code} takes nothing off this cart."
    return None


def spread(amount: int, line_totals: Sequence[int]) -> list[int]:
    """Split `amount` (a discount) across lines in proportion to their totals.

    Each share is rounded down and the units left over go to the lines with the
    largest remainders (the first among equals), so the shares add up to `amount`
    exactly and none is more than its line: a gateway can be sent every line less its
    share and charge the discounted total to the cent.
    """
    if any(total < 0 for total in line_totals):
        raise ValueError("line totals must not be negative")
    whole = sum(line_totals)
    if not 0 <= amount <= whole:
        raise ValueError(f"cannot spread {amount} over lines totalling {whole}")
    if amount == 0:
        return [0] * len(line_totals)
    shares = [amount * total // whole for total in line_totals]
    remainders = [amount * total % whole for total in line_totals]
    left = amount - sum(shares)
    by_remainder = sorted(range(len(line_totals)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def line_discounts(coupon: Coupon, lines: Sequence[Line], currency: str) -> list[int]:
    """`discount` split over the lines it applies to (0 for the others), in line order."""
    totals = [(sku, price * quantity, False) for sku, price, quantity in lines]
    return discount_shares(discount(coupon, lines, currency), totals, coupon)


def discount_shares(
    amount: int, lines: Sequence[tuple[str, int, bool]], coupon: Coupon | None
) -> list[int]:
    """An order's discount spread over its lines (sku, line total, renews), so each
    can go to a gateway less its share: over the one-off lines the coupon applies to
    (a subscription is never discounted), or over every one-off line when the coupon
    can no longer be read back as it was."""
    if not amount:
        return [0] * len(lines)
    one_off = [0 if renews else total for _, total, renews in lines]
    totals = [
        total if coupon is None or coupon.applies_to(sku) else 0
        for (sku, _, _), total in zip(lines, one_off, strict=True)
    ]
    if sum(totals) < amount:
        totals = one_off
    return spread(amount, totals)


class Coupons:
    """Moderators' coupons of each shop: create, list, retire, find."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        shop_id: int,
        spec: CouponSpec,
        *,
        by: int,
        currency: str,
        known_skus: Collection[str] | None = None,
        renewing: Mapping[str, str] | None = None,
    ) -> Coupon:
        """A new coupon in the shop's `currency`. A code already used in the shop, even
        by a retired coupon, is refused: members may still hold it, and orders name it.
        `known_skus`, when given, are the shop's items; a coupon for others is refused.
        `renewing` names the items sold as subscriptions (sku -> name): a coupon never
        discounts one (it would discount every renewal), so naming one is refused."""
        now = self.ctx.now()
        if spec.expires_at is not None and spec.expires_at <= now:
            raise InvalidInput(
                f"The expiry {spec.expires_at:%Y-%m-%d %H:%M} UTC has already passed."
            )
        if known_skus is not None:
            unknown = [sku for sku in spec.skus if sku not in known_skus]
            if unknown:
                raise InvalidInput(f"The shop has no item {', '.join(unknown)}.")
        subscriptions = [renewing[sku] for sku in spec.skus if renewing and sku in renewing]
        if subscriptions:
            raise InvalidInput(
                f"{', '.join(subscriptions)} renew(s) every period, and a coupon never "
                "discounts a subscription (it would discount every renewal). Leave "
                "it out of items."
            )
        try:
            currency = normalize_currency(currency)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        values = {
            "shop_id": shop_id,
            "code": spec.code,
            "kind": spec.kind,
            "amount": spec.amount,
            "currency": currency,
            "min_order": spec.min_order,
            "skus": list(spec.skus),
            "max_uses": spec.max_uses,
            "per_member_limit": spec.per_member_limit,
            "uses": 0,
            "expires_at": spec.expires_at,
            "retired_at": None,
            "created_by": by,
            "created_at": now,
        }

        async def work(conn: Conn) -> Coupon:
            made = await insert_ignore(conn, coupons, values, conflict=["shop_id", "code"])
            coupon = await get(conn, shop_id, spec.code)
            assert coupon is not None
            if made:
                return coupon
            if coupon.retired_at is not None:
                raise InvalidInput(
                    f"The code {spec.code} belonged to a coupon retired on "
                    f"{coupon.retired_at:%Y-%m-%d}; codes are never reused, choose another."
                )
            raise InvalidInput(f"The shop already has a coupon {spec.code}.")

        return await self.ctx.db.write(work)

    async def list(self, shop_id: int, *, include_retired: bool = True) -> builtins.list[Coupon]:
        """The shop's coupons, oldest first."""
        query = select(coupons).where(coupons.c.shop_id == shop_id)
        if not include_retired:
            query = query.where(coupons.c.retired_at.is_(None))

        async def work(conn: Conn) -> builtins.list[Coupon]:
            rows = await conn.execute(query.order_by(coupons.c.created_at, coupons.c.id))
            return [_coupon(row) for row in rows]

        return await self.ctx.db.read(work)

    async def retire(self, shop_id: int, code: str, *, by: int) -> Coupon:
        """Stop a coupon from being applied; orders that hold a use keep it. Retiring a
        retired coupon changes nothing. (`by` is for the caller's audit message.)"""
        code = normalize_code(code)
        now = self.ctx.now()

        async def work(conn: Conn) -> Coupon:
            await conn.execute(
                update(coupons)
                .where(
                    coupons.c.shop_id == shop_id,
                    coupons.c.code == code,
                    coupons.c.retired_at.is_(None),
                )
                .values(retired_at=now)
            )
            coupon = await get(conn, shop_id, code)
            if coupon is None:
                raise InvalidInput(f"The shop has no coupon {code}.")
            return coupon

        return await self.ctx.db.write(work)

    async def find(self, shop_id: int, code: str) -> Coupon | None:
        """The coupon a member or moderator typed, in any case; None when there is none."""
        try:
            wanted = normalize_code(code)
        except InvalidInput:
            return None
        return await self.ctx.db.read(lambda conn: get(conn, shop_id, wanted))


# Connection-level: called inside checkout's and lapse's units of work.


async def get(conn: Conn, shop_id: int, code: str) -> Coupon | None:
    """The coupon with the (normalized) code in the shop, as this transaction sees it."""
    row = (
        await conn.execute(
            select(coupons).where(coupons.c.shop_id == shop_id, coupons.c.code == code)
        )
    ).first()
    return None if row is None else _coupon(row)


async def member_uses(conn: Conn, coupon_id: int, member_id: int) -> int:
    """Uses of the coupon the member's orders hold (not given back)."""
    count = await conn.execute(
        select(func.count())
        .select_from(coupon_uses)
        .where(
            coupon_uses.c.coupon_id == coupon_id,
            coupon_uses.c.member_id == member_id,
            coupon_uses.c.released_at.is_(None),
        )
    )
    return int(count.scalar_one())


async def hold(
    conn: Conn, coupon: Coupon, *, order_id: int, member_id: int, discount: int, now: datetime
) -> None:
    """Take one use of the coupon for the order, or refuse; one use per order.

    The conditional UPDATE also checks that the coupon was not retired and has not
    expired since it was read. The member's own limit is counted after it, while this
    transaction holds the coupon's row, so two checkouts of one member can't both pass.
    A refusal raises, and the checkout's unit of work rolls the use back.
    """
    taken = await conn.execute(
        update(coupons)
        .where(
            coupons.c.id == coupon.id,
            coupons.c.retired_at.is_(None),
            or_(coupons.c.expires_at.is_(None), coupons.c.expires_at > now),
            or_(coupons.c.max_uses.is_(None), coupons.c.uses < coupons.c.max_uses),
        )
        .values(uses=coupons.c.uses + 1)
    )
    if taken.rowcount != 1:
        raise InvalidInput(await _why_not(conn, coupon, now))
    if coupon.per_member_limit is not None:
        used = await member_uses(conn, coupon.id, member_id)
        if used >= coupon.per_member_limit:
            raise InvalidInput(
                f"You have already used the code {coupon.code} as many times as it "
                "allows per member."
            )
    await conn.execute(
        coupon_uses.insert().values(
            order_id=order_id,
            coupon_id=coupon.id,
            shop_id=coupon.shop_id,
            member_id=member_id,
            discount=discount,
            released_at=None,
            created_at=now,
        )
    )


async def release(conn: Conn, order_id: int, now: datetime) -> bool:
    """A lapsed or refunded order gives its use back; False when it holds none (never
    had one, or gave it back already)."""
    return await _move_use(conn, order_id, now, give_back=True)


async def take_again(conn: Conn, order_id: int, now: datetime) -> bool:
    """A lapsed order paid after all takes its use again, even past `max_uses`: the
    member paid the discounted price. False when it holds no released use."""
    return await _move_use(conn, order_id, now, give_back=False)


async def _move_use(conn: Conn, order_id: int, now: datetime, *, give_back: bool) -> bool:
    held = coupon_uses.c.released_at.is_(None)
    moved = await conn.execute(
        update(coupon_uses)
        .where(and_(coupon_uses.c.order_id == order_id, held if give_back else ~held))
        .values(released_at=now if give_back else None)
    )
    if moved.rowcount != 1:
        return False
    coupon_id = (
        await conn.execute(
            select(coupon_uses.c.coupon_id).where(coupon_uses.c.order_id == order_id)
        )
    ).scalar_one()
    await conn.execute(
        update(coupons)
        .where(coupons.c.id == coupon_id)
        .values(uses=coupons.c.uses + (-1 if give_back else 1))
    )
    return True


async def _why_not(conn: Conn, coupon: Coupon, now: datetime) -> str:
    current = (await conn.execute(select(coupons).where(coupons.c.id == coupon.id))).first()
    if current is None:
        return f"The code {coupon.code} is no longer valid."
    fresh = _coupon(current)
    if fresh.retired_at is not None:
        return f"The code {coupon.code} is no longer valid."
    if fresh.expires_at is not None and fresh.expires_at <= now:
        return f"The code {coupon.code} expired on {fresh.expires_at:%Y-%m-%d}."
    return f"The code {coupon.code} has been used up."


def _applies(coupon: Coupon, sku: str) -> bool:
    return not coupon.skus or sku in coupon.skus


def _items(skus: Sequence[str], names: Mapping[str, str] | None) -> str:
    named = [(names or {}).get(sku, sku) for sku in skus]
    if len(named) == 1:
        return named[0]
    return f"{', '.join(named[:-1])} or {named[-1]}"


def _coupon(row: Any) -> Coupon:
    return Coupon(
        id=int(row.id),
        shop_id=int(row.shop_id),
        code=str(row.code),
        kind="percent" if row.kind == "percent" else "fixed",
        amount=int(row.amount),
        currency=str(row.currency),
        min_order=int(row.min_order),
        skus=tuple(str(sku) for sku in row.skus or ()),
        max_uses=None if row.max_uses is None else int(row.max_uses),
        per_member_limit=None if row.per_member_limit is None else int(row.per_member_limit),
        uses=int(row.uses),
        expires_at=row.expires_at,
        retired_at=row.retired_at,
        created_by=int(row.created_by),
        created_at=row.created_at,
    )


def _describe(error: ValidationError) -> str:
    """ "amount: a percent coupon takes 1 to 100 percent off; code: …", without the
    input values."""
    return "; ".join(part.rstrip(".") for part in validation_parts(error)) + "."
