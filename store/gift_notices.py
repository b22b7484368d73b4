"""What a gift's recipient is told when the gift is taken back.

The buyer hears about a refund or chargeback through their own notice; the
recipient lost something too and is told so, naming the gift by its own reference
(never the buyer's order number, which would tie an anonymous gift to its buyer).
Kinds call this from `claw_back`, inside the unit of work.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from store.accounts import AccountBook
from store.db.schema import order_lines
from store.effects import Effect, GiftWithdrawn
from store.kinds.base import PaidLine


async def gift_withdrawn(book: AccountBook, line: PaidLine, description: str) -> list[Effect]:
    """The recipient's notice; none for a line the buyer bought for themselves."""
    if line.recipient_id == line.buyer_id:
        return []
    ref = (await book.conn.execute(_GIFT_REF, {"line_id": line.line_id})).scalar_one_or_none()
    return [GiftWithdrawn(member_id=line.recipient_id, gift_ref=ref or "", description=description)]


_GIFT_REF = select(order_lines.c.gift_ref).where(order_lines.c.id == bindparam("line_id"))
