"""What a member keeps from an order, decided from the order's money facts alone.

Gateways report facts in any order, twice, or late (a refund before its payment, a
dispute closed before it was opened). Rather than each event moving the order by its
own rule, every event adds a fact and this one pure function decides, from all the
facts, the order's state and whether the member holds what it bought. The same set
of facts always gives the same answer, whatever order it arrived in.

The rules:

- No capture yet: the order keeps its lifecycle state (pending, or lapsed); facts
  that came early simply wait.
- A capture whose amount or currency does not match the order is held for a
  moderator, unless a moderator accepted it; refunded in full, it ends refunded.
- A lost dispute takes the goods back (charged back).
- Refunds that return the whole captured amount take the goods back (refunded). A
  refund that later failed does not count: the money is back with the shop.
- A partial refund keeps the goods, and a moderator is asked to review.
- An open dispute (opened or funds withdrawn, not yet closed) keeps the goods, marks
  the order disputed and asks for review. A dispute won, or closed as a warning,
  counts for nothing: the refunds and captures decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from store.money import Money
from store.orders import OrderState

S = OrderState


class FactKind(StrEnum):
    CAPTURED = "captured"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_FUNDS_WITHDRAWN = "dispute_funds_withdrawn"
    DISPUTE_FUNDS_REINSTATED = "dispute_funds_reinstated"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    #: A moderator accepted a held payment as paying for the order.
    ACCEPTED = "accepted"


_REFUND_KINDS = frozenset({FactKind.REFUND_SUCCEEDED, FactKind.REFUND_FAILED})
_DISPUTE_KINDS = frozenset(
    {
        FactKind.DISPUTE_OPENED,
        FactKind.DISPUTE_FUNDS_WITHDRAWN,
        FactKind.DISPUTE_FUNDS_REINSTATED,
        FactKind.DISPUTE_WON,
        FactKind.DISPUTE_LOST,
    }
)


@dataclass(frozen=True)
class MoneyFact:
    """One thing that happened to the order's money.

    `subject` names the refund or dispute the fact belongs to, so a refund's failure
    cancels that refund's success and a dispute's close ends that dispute.
    """

    kind: FactKind
    subject: str = ""
    amount: int | None = None
    currency: str | None = None


def fact_ref(kind: FactKind, subject: str) -> str:
    """The fact's unique reference within its order: one row however often reported."""
    if kind is FactKind.CAPTURED:
        return "capture"
    if kind is FactKind.ACCEPTED:
        return "accepted"
    group = "refund" if kind in _REFUND_KINDS else "dispute"
    return f"{group}:{subject}:{kind.value}"


@dataclass(frozen=True)
class Decision:
    """The order's state, whether the member holds the goods, and what to tell a moderator."""

    state: OrderState
    keeps_goods: bool
    captured: int | None
    refunded: int
    review: str | None = None


def decide(
    facts: Iterable[MoneyFact],
    *,
    cash_due: int,
    currency: str,
    lifecycle: OrderState,
    locale: str = "en_US",
) -> Decision:
    """Decide from the facts alone (their order does not matter; duplicates don't count).

    `lifecycle` is the state the order has without money (pending, or how it lapsed).
    `locale` formats the amounts in the review text moderators read: the shop's own.
    """
    facts = set(facts)
    captures = [f for f in facts if f.kind is FactKind.CAPTURED]
    if not captures:
        return Decision(lifecycle, False, None, 0)
    capture = min(captures, key=lambda f: (f.amount is None, f.amount or 0, f.currency or ""))
    paid = capture.amount if capture.amount is not None else cash_due
    refunded = _refunded(facts, paid)
    open_dispute, lost = _disputes(facts)
    mismatch = money_mismatch(capture.amount, capture.currency, cash_due, currency, locale)
    fully_refunded = refunded > 0 and refunded >= paid
    if mismatch and not any(f.kind is FactKind.ACCEPTED for f in facts):
        if lost:
            return Decision(S.CHARGED_BACK, False, capture.amount, refunded)
        if fully_refunded:
            return Decision(S.REFUNDED, False, capture.amount, refunded)
        return Decision(S.HELD, False, capture.amount, refunded, mismatch)
    if lost:
        return Decision(S.CHARGED_BACK, False, capture.amount, refunded)
    if fully_refunded:
        return Decision(S.REFUNDED, False, capture.amount, refunded)
    if open_dispute:
        review = "A payment dispute is open."
        return Decision(S.DISPUTED, True, capture.amount, refunded, review)
    if refunded:
        money = Money(refunded, currency).format(locale)
        review = f"Partial refund ({money} in all): decide whether to take anything back."
        return Decision(S.PARTIALLY_REFUNDED, True, capture.amount, refunded, review)
    return Decision(S.FULFILLED, True, capture.amount, refunded)


def money_mismatch(
    amount: int | None, paid_in: str | None, cash_due: int, currency: str, locale: str = "en_US"
) -> str | None:
    """Why a captured amount does not pay for the order, or None when it does."""
    if amount is None or paid_in is None:
        return "The payment did not say how much was paid."
    if paid_in.upper() != currency:
        return f"Paid in {paid_in.upper()}, but the order is in {currency}."
    if amount != cash_due:
        paid, due = Money(amount, currency).format(locale), Money(cash_due, currency).format(locale)
        return f"Paid {paid}, but the order was for {due}."
    return None


def _refunded(facts: set[MoneyFact], paid: int) -> int:
    """Money returned by refunds that succeeded and did not later fail (each counted once)."""
    failed = {f.subject for f in facts if f.kind is FactKind.REFUND_FAILED}
    amounts: dict[str, int] = {}
    for fact in facts:
        if fact.kind is FactKind.REFUND_SUCCEEDED and fact.subject not in failed:
            amount = paid if fact.amount is None else fact.amount
            amounts[fact.subject] = max(amounts.get(fact.subject, 0), amount)
    return sum(amounts.values())


def _disputes(facts: set[MoneyFact]) -> tuple[bool, bool]:
    """(a dispute is open, a dispute was lost); a loss outweighs a contradictory win."""
    subjects = {f.subject for f in facts if f.kind in _DISPUTE_KINDS}
    open_any = lost_any = False
    for subject in subjects:
        kinds = {f.kind for f in facts if f.subject == subject and f.kind in _DISPUTE_KINDS}
        if FactKind.DISPUTE_LOST in kinds:
            lost_any = True
        elif FactKind.DISPUTE_WON not in kinds:
            open_any = True
    return open_any, lost_any
