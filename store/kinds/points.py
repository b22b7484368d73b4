"""Points (credits): spendable in the shop, giftable like anything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store.accounts import AccountBook, Reason, Source
from store.effects import Effect, ReviewAlert
from store.gift_notices import gift_restored, gift_withdrawn
from store.kinds.base import GIVEN_BACK, ItemKind, PaidLine


class PointsKind(ItemKind):
    name = "points"

    def parse_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(options) - {"points"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        points = options.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise ValueError("points must be a positive whole number")
        return {"points": points}

    def describe(self, spec: Mapping[str, Any], quantity: int) -> str:
        total = int(spec["points"]) * quantity
        return f"{total:,} points"

    async def apply(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        await book.credit_points(
            line.recipient_id,
            int(line.spec["points"]) * line.quantity,
            Source(Reason.ORDER_LINE, order_id=line.order_id, order_line_id=line.line_id),
        )
        return []

    async def claw_back(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        wanted = int(line.spec["points"]) * line.quantity
        taken = await book.debit_points(
            line.recipient_id,
            wanted,
            Source(Reason.REFUND, order_id=line.order_id, order_line_id=line.line_id),
            partial=True,
        )
        effects = await gift_withdrawn(book, line, self.describe(line.spec, line.quantity))
        if taken < wanted:
            effects.append(
                ReviewAlert(
                    member_id=line.recipient_id,
                    order_id=line.order_id,
                    reason=(
                        f"Refund could take back only {taken} of {wanted} points: "
                        "the balance would have gone negative."
                    ),
                )
            )
        return effects

    async def restore(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        """Credit what the take-back debited: points already spent were never taken."""
        taken = (await book.line_take_back(line.line_id)).points
        if taken:
            await book.credit_points(
                line.recipient_id,
                taken,
                Source(
                    Reason.ORDER_LINE,
                    order_id=line.order_id,
                    order_line_id=line.line_id,
                    memo=GIVEN_BACK,
                ),
            )
        return await gift_restored(book, line, self.describe(line.spec, line.quantity))
