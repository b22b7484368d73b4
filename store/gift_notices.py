"""What a gift's recipient is told when the gift is taken back, and when it returns.

The buyer hears about a refund or chargeback through their own notice; the
recipient lost something too and is told so, naming the gift by its own reference
(never the buyer's order number, which would tie an anonymous gift to its buyer).
When the refund that took it fails, the gift comes back and they are told that too.
Kinds call these from `claw_back` and `restore`, inside the unit of work.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from store.accounts import AccountBook
from store.db.schema import order_lines
from store.effects import Effect, GiftRestored, GiftWithdrawn
from store.kinds.base import PaidLine


async def gift_withdrawn(book: AccountBook, line: PaidLine, description: str) -> list[Effect]:
    """The recipient's notice; none for a line the buyer bought for themselves."""
    if line.recipient_id == line.buyer_id:
        return []
    ref = (await book.conn.execute(_GIFT_REF, {"line_id": line.line_id})).scalar_one_or_none()
    return [GiftWithdrawn(member_id=line.recipient_id, gift_ref=ref or "", description=description)]


async def gift_restored(book: AccountBook, line: PaidLine, description: str) -> list[Effect]:
    """The recipient's notice that a gift taken back is theirs again; none for the buyer."""
    if line.recipient_id == line.buyer_id:
        return []
    ref = (await book.conn.execute(_GIFT_REF, {"line_id": line.line_id})).scalar_one_or_none()
    return [GiftRestored(member_id=line.recipient_id, gift_ref=ref or "", description=description)]


_GIFT_REF = select(order_lines.c.gift_ref).where(order_lines.c.id == bindparam("line_id"))
