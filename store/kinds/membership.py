"""Paid membership time in a tier: calendar months, days, or permanent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store.accounts import AccountBook, Reason, Source
from store.effects import Effect
from store.errors import InvalidInput
from store.gift_notices import gift_restored, gift_withdrawn
from store.kinds.base import (
    GIVEN_BACK,
    INTERVAL_MONTHS,
    Interval,
    ItemKind,
    LineContext,
    LineDraft,
    PaidLine,
)


class MembershipKind(ItemKind):
    name = "membership"

    def parse_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(options) - {"tier", "months", "days", "permanent", "billing", "interval"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        tier = options.get("tier")
        if not isinstance(tier, str) or tier not in self.tiers:
            known = ", ".join(sorted(self.tiers)) or "none configured"
            raise ValueError(f"tier {tier!r} is not a configured membership tier ({known})")
        billing = options.get("billing", "one_off")
        if billing == "subscription":
            return self._subscription(tier, options)
        if billing != "one_off":
            raise ValueError(f"billing must be 'one_off' or 'subscription', not {billing!r}")
        if "interval" in options:
            raise ValueError("interval is for billing = 'subscription' only")
        permanent = options.get("permanent", False)
        months = options.get("months", 0)
        days = options.get("days", 0)
        if not isinstance(permanent, bool):
            raise ValueError("permanent must be true or false")
        for key, value in (("months", months), ("days", days)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a whole number of zero or more")
        if permanent and (months or days):
            raise ValueError("a permanent membership takes no months or days")
        if not permanent and not (months or days):
            raise ValueError("set months or days, or permanent = true")
        return {"tier": tier, "months": months, "days": days, "permanent": permanent}

    @staticmethod
    def _subscription(tier: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """One interval of time, renewed by the gateway every interval until cancelled."""
        interval = options.get("interval")
        if interval not in INTERVAL_MONTHS:
            raise ValueError(
                f"interval must be 'month' or 'year' for a subscription, not {interval!r}"
            )
        extra = sorted({"months", "days", "permanent"} & set(options))
        if extra:
            raise ValueError(f"a subscription's period is its interval; remove {', '.join(extra)}")
        return {
            "tier": tier,
            "months": INTERVAL_MONTHS[interval],
            "days": 0,
            "permanent": False,
            "billing": "subscription",
            "interval": interval,
        }

    def renews_every(self, spec: Mapping[str, Any]) -> Interval | None:
        if spec.get("billing") != "subscription":
            return None
        interval: Interval = "year" if spec["interval"] == "year" else "month"
        return interval

    def describe(self, spec: Mapping[str, Any], quantity: int) -> str:
        tier = str(spec["tier"]).title()
        interval = self.renews_every(spec)
        if interval is not None:
            return f"{tier} membership, renewing every {interval}"
        if spec["permanent"]:
            return f"Permanent {tier} membership"
        parts = []
        months = int(spec["months"]) * quantity
        days = int(spec["days"]) * quantity
        if months:
            parts.append(f"{months} month{'s' if months != 1 else ''}")
        if days:
            parts.append(f"{days} day{'s' if days != 1 else ''}")
        return f"{' and '.join(parts)} of {tier}"

    async def validate_line(self, line: LineDraft, context: LineContext) -> None:
        tier = line.spec["tier"]
        if self.renews_every(line.spec) is not None:
            self._check_subscription(line, context)
        if line.spec["permanent"] and line.quantity != 1:
            raise InvalidInput("A permanent membership can only be bought once.")
        state = await context.membership(line.recipient_id, tier)
        whose = "You already have" if line.recipient_id == line.buyer_id else "They already have"
        if state is not None and state.permanent:
            raise InvalidInput(
                f"{whose} a permanent {tier.title()} membership, so more time can't be added."
            )
        for other in context.other_lines:
            if other.recipient_id != line.recipient_id or other.spec.get("tier") != tier:
                continue
            if other.spec.get("permanent") and line.spec["permanent"]:
                raise InvalidInput(
                    f"The cart already has a permanent {tier.title()} membership for this member."
                )
            if other.spec.get("permanent") or line.spec["permanent"]:
                raise InvalidInput(
                    f"The cart has a permanent {tier.title()} membership for this member; "
                    "time can't be added to it."
                )

    def _check_subscription(self, line: LineDraft, context: LineContext) -> None:
        tier = str(line.spec["tier"]).title()
        # Never a gift: the catalog makes every subscription item not giftable.
        if line.quantity != 1:
            raise InvalidInput(f"A {tier} subscription is bought once; it renews by itself.")
        # One per cart: one checkout starts one subscription at the gateway, billed as
        # one amount on one interval; two would be one subscription the shop sees as one.
        for other in context.other_lines:
            if self.renews_every(other.spec) is not None:
                other_tier = str(other.spec.get("tier", "")).title()
                raise InvalidInput(
                    f"The cart already has a {other_tier} subscription; check it out first, "
                    "then subscribe to the next one."
                )

    async def apply(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        spec = line.spec
        return await book.extend_membership(
            line.recipient_id,
            str(spec["tier"]),
            Source(Reason.ORDER_LINE, order_id=line.order_id, order_line_id=line.line_id),
            months=int(spec["months"]) * line.quantity,
            days=int(spec["days"]) * line.quantity,
            permanent=bool(spec["permanent"]),
        )

    async def claw_back(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        effects: list[Effect] = []
        changes = await book.line_time_changes(line.line_id)
        for change in changes:
            effects += await book.shorten_membership(
                line.recipient_id,
                change.tier,
                Source(Reason.REFUND, order_id=line.order_id, order_line_id=line.line_id),
                undo=change,
            )
        if changes:
            effects += await gift_withdrawn(book, line, self.describe(line.spec, line.quantity))
        return effects

    async def restore(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        """Give back the time the take-back removed (not a fresh term: time used while
        the member held it stays used), or the permanence it removed."""
        effects: list[Effect] = []
        taken = (await book.line_take_back(line.line_id)).time
        source = Source(
            Reason.ORDER_LINE, order_id=line.order_id, order_line_id=line.line_id, memo=GIVEN_BACK
        )
        for change in taken:
            effects += await book.give_back_time(line.recipient_id, source, change)
        if taken:
            effects += await gift_restored(book, line, self.describe(line.spec, line.quantity))
        return effects
