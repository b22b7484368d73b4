"""The subscription values the fake gateway and the shop exchange, and their arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.fake import add_intervals
from payments.models import CheckoutLine, CheckoutRequest, EventKind, GatewayEvent

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _request(*lines: CheckoutLine) -> CheckoutRequest:
    return CheckoutRequest(
        order_id="o",
        idempotency_key="k",
        lines=lines,
        total=sum(line.amount for line in lines),
        currency="EUR",
        success_url="https://s/ok",
        cancel_url="https://s/no",
        expires_at=NOW,
    )


def test_a_recurring_line_makes_a_subscription_checkout() -> None:
    """One recurring line is enough; only the recurring lines are charged again."""
    request = _request(CheckoutLine("Gold", 2, 300, "month"), CheckoutLine("Pack", 1, 150))
    assert (request.is_subscription, request.interval, request.recurring_amount) == (
        True,
        "month",
        600,
    )


def test_one_off_lines_make_no_subscription() -> None:
    """Without an interval a checkout is paid once, as before subscriptions."""
    assert _request(CheckoutLine("Gold, 30 days", 1, 300)).is_subscription is False


def test_recurring_lines_on_two_cycles_are_refused() -> None:
    """One checkout starts one subscription, billed on one cycle."""
    with pytest.raises(ValueError, match="one interval"):
        _request(CheckoutLine("Gold", 1, 300, "month"), CheckoutLine("Silver", 1, 100, "year"))


def test_an_unknown_interval_is_refused() -> None:
    """Only months and years exist; a typo must not become a one-off charge."""
    with pytest.raises(ValueError, match="interval"):
        CheckoutLine("Gold", 1, 300, "week")  # type: ignore[arg-type]


def test_subscription_fields_survive_storage() -> None:
    """to_dict/from_dict keep the subscription, invoice, period end and both flags."""
    event = GatewayEvent(
        gateway="fake",
        event_id="evt_1",
        kind=EventKind.INVOICE_PAID,
        session_id=None,
        order_id=None,
        amount=300,
        currency="EUR",
        occurred_at=NOW,
        raw_type="invoice_paid",
        subscription_id="fsub_1",
        invoice_id="fin_1",
        period_end=NOW + timedelta(days=31),
        cancel_at_period_end=True,
        first_invoice=True,
    )
    assert GatewayEvent.from_dict(event.to_dict()) == event


def test_an_event_stored_before_subscriptions_still_loads() -> None:
    """Old stored dicts lack the new keys; they load as a one-off payment's event."""
    old = {
        "gateway": "fake",
        "event_id": "evt_old",
        "kind": "payment_succeeded",
        "session_id": "fs_1",
        "order_id": "o-1",
        "amount": 900,
        "currency": "EUR",
        "occurred_at": NOW.isoformat(),
        "raw_type": "payment_succeeded",
    }
    event = GatewayEvent.from_dict(old)
    assert (event.subscription_id, event.invoice_id, event.period_end) == (None, None, None)
    assert (event.cancel_at_period_end, event.first_invoice) == (None, False)


def test_a_naive_period_end_is_refused() -> None:
    """Period ends are compared with membership ends; a naive time would lie."""
    with pytest.raises(ValueError, match="period_end"):
        GatewayEvent(
            gateway="fake",
            event_id="evt_1",
            kind=EventKind.INVOICE_PAID,
            session_id=None,
            order_id=None,
            amount=300,
            currency="EUR",
            occurred_at=NOW,
            raw_type="invoice_paid",
            period_end=datetime(2030, 2, 1),
        )


def test_monthly_periods_keep_the_day_they_started_on() -> None:
    """Started on the 31st: the end of February, then the 31st of March again."""
    start = datetime(2030, 1, 31, tzinfo=UTC)
    assert [add_intervals(start, "month", n).date().isoformat() for n in (1, 2, 13)] == [
        "2030-02-28",
        "2030-03-31",
        "2031-02-28",
    ]


def test_a_yearly_period_from_the_29th_of_february_ends_on_the_28th() -> None:
    """A year after a leap day is the last day of the next February."""
    start = datetime(2028, 2, 29, tzinfo=UTC)
    assert add_intervals(start, "year", 1) == datetime(2029, 2, 28, tzinfo=UTC)
