"""The values exchanged with gateways refuse what would make money or time ambiguous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from payments.models import CheckoutLine, CheckoutRequest, EventKind, GatewayEvent, SessionState

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _request(**kw: object) -> CheckoutRequest:
    values: dict[str, object] = {
        "order_id": "o",
        "idempotency_key": "k",
        "lines": (CheckoutLine("x", 2, 100),),
        "total": 200,
        "currency": "EUR",
        "success_url": "https://s/ok",
        "cancel_url": "https://s/no",
        "expires_at": NOW,
    }
    values.update(kw)
    return CheckoutRequest(**values)  # type: ignore[arg-type]


def test_total_must_match_the_lines() -> None:
    """A total that disagrees with the lines would charge something else than ordered."""
    with pytest.raises(ValueError, match="total"):
        _request(total=199)


def test_currency_must_be_upper_case_iso() -> None:
    """Stripe's lower-case codes stay inside its adapter."""
    with pytest.raises(ValueError, match="currency"):
        _request(currency="eur")


def test_expiry_must_be_aware_utc() -> None:
    """A naive expiry would be compared against the wrong clock."""
    with pytest.raises(ValueError, match="expires_at"):
        _request(expires_at=datetime(2030, 1, 1))


def test_expiry_in_another_zone_is_refused() -> None:
    """Times cross the boundary in UTC only."""
    with pytest.raises(ValueError, match="expires_at"):
        _request(expires_at=datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2))))


def test_line_quantity_must_be_positive() -> None:
    """Zero or negative quantities are not purchases."""
    with pytest.raises(ValueError, match="quantity"):
        CheckoutLine("x", 0, 100)


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (SessionState("s", "o", "complete", True, 100, "EUR"), EventKind.PAYMENT_SUCCEEDED),
        (SessionState("s", "o", "complete", False, 100, "EUR"), EventKind.PAYMENT_PENDING),
        (
            SessionState("s", "o", "complete", False, 100, "EUR", payment_failed=True),
            EventKind.PAYMENT_FAILED,
        ),
        (SessionState("s", "o", "expired", False, 100, "EUR"), EventKind.CHECKOUT_EXPIRED),
    ],
)
def test_session_state_becomes_the_event_to_apply(state: SessionState, kind: EventKind) -> None:
    """Each settled state maps to one event with an id derived from session and outcome."""
    event = state.as_event("fake", NOW)
    assert event is not None
    assert (event.kind, event.event_id) == (kind, f"reconcile:s:{kind.value}")


def test_open_session_gives_no_event() -> None:
    """Nothing to apply while the member may still pay."""
    assert SessionState("s", "o", "open", False, 100, "EUR").as_event("fake", NOW) is None


def test_event_round_trips_through_a_dict() -> None:
    """The receiver can store an event as JSON and rebuild it identically."""
    event = GatewayEvent(
        "stripe",
        "evt_1",
        EventKind.REFUND_SUCCEEDED,
        "cs_1",
        "o",
        50,
        "EUR",
        NOW,
        "refund.created",
        subject_id="re_1",
        payment_ref="pi_1",
    )
    assert GatewayEvent.from_dict(event.to_dict()) == event
