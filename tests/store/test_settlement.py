"""The pure decision: from an order's money facts to its state and what the member keeps."""

from __future__ import annotations

import itertools

import pytest

from store.orders import OrderState
from store.settlement import FactKind, MoneyFact, decide

F = FactKind
S = OrderState
PAID = MoneyFact(F.CAPTURED, "", 300, "USD")


def _decide(*facts: MoneyFact) -> tuple[OrderState, bool]:
    decision = decide(facts, cash_due=300, currency="USD", lifecycle=S.PENDING)
    return decision.state, decision.keeps_goods


@pytest.mark.parametrize(
    ("facts", "state", "keeps"),
    [
        ((), S.PENDING, False),
        ((PAID,), S.FULFILLED, True),
        ((MoneyFact(F.REFUND_SUCCEEDED, "r", 300),), S.PENDING, False),
        ((PAID, MoneyFact(F.REFUND_SUCCEEDED, "r", 100)), S.PARTIALLY_REFUNDED, True),
        ((PAID, MoneyFact(F.REFUND_SUCCEEDED, "r", 300)), S.REFUNDED, False),
        (
            (PAID, MoneyFact(F.REFUND_SUCCEEDED, "r", 300), MoneyFact(F.REFUND_FAILED, "r")),
            S.FULFILLED,
            True,
        ),
        ((PAID, MoneyFact(F.DISPUTE_FUNDS_WITHDRAWN, "d", 300)), S.DISPUTED, True),
        ((PAID, MoneyFact(F.DISPUTE_LOST, "d", 300)), S.CHARGED_BACK, False),
        (
            (PAID, MoneyFact(F.DISPUTE_WON, "d"), MoneyFact(F.DISPUTE_LOST, "d")),
            S.CHARGED_BACK,
            False,
        ),
        ((MoneyFact(F.CAPTURED, "", 299, "USD"),), S.HELD, False),
        ((MoneyFact(F.CAPTURED, "", 300, "EUR"), MoneyFact(F.ACCEPTED)), S.FULFILLED, True),
        (
            (MoneyFact(F.CAPTURED, "", 299, "USD"), MoneyFact(F.REFUND_SUCCEEDED, "r", None)),
            S.REFUNDED,
            False,
        ),
    ],
)
def test_decision_table(facts: tuple[MoneyFact, ...], state: OrderState, keeps: bool) -> None:
    """Each combination of facts gives one state and one answer to 'does the member keep it'."""
    assert _decide(*facts) == (state, keeps)


def test_dispute_refund_won_ends_refunded_in_every_order() -> None:
    """Opened, refunded in full, closed won — in any of the 24 arrival orders: refunded."""
    facts = [
        PAID,
        MoneyFact(F.DISPUTE_OPENED, "d"),
        MoneyFact(F.REFUND_SUCCEEDED, "r", 300),
        MoneyFact(F.DISPUTE_WON, "d"),
    ]
    for order in itertools.permutations(facts):
        assert _decide(*order) == (S.REFUNDED, False)
