"""Our Storefront-Signature scheme, as used by the fake gateway's webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payments import signing
from payments.errors import WebhookVerificationError
from payments.fake import FakeGateway, FakeOptions
from payments.gateway import GatewayContext
from payments.models import EventKind

SECRET = "whsec_current"
BODY = b'{"id":"evt_1","type":"payment_succeeded"}'
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def verify(body: bytes, header: str | None, secrets: tuple[str, ...] = (SECRET,)) -> int:
    return signing.verify(body, header, secrets, NOW)


def test_a_correct_signature_verifies() -> None:
    """A body signed with the secret at the current time is accepted."""
    assert verify(BODY, signing.sign(BODY, SECRET, T)) == T


def test_missing_header_is_rejected() -> None:
    """No header at all is refused."""
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(BODY, None)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'0' * 64}",
        f"t={T}",
        f"t=abc,v1={'0' * 64}",
        f"t={T},t={T},v1={'0' * 64}",
        f"t={T},v0={'0' * 64}",
    ],
)
def test_malformed_header_is_rejected(header: str) -> None:
    """Headers without exactly one numeric timestamp and a v1 value are refused."""
    with pytest.raises(WebhookVerificationError, match="malformed"):
        verify(BODY, header)


def test_wrong_secret_is_rejected() -> None:
    """A signature made with another secret does not match."""
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, signing.sign(BODY, "whsec_other", T))


def test_one_changed_body_byte_is_rejected() -> None:
    """Changing a single byte of the signed body breaks the signature."""
    header = signing.sign(BODY, SECRET, T)
    tampered = BODY.replace(b"evt_1", b"evt_2")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(tampered, header)


def test_stale_timestamp_is_rejected() -> None:
    """A correctly signed body older than the tolerance is refused as a possible replay."""
    header = signing.sign(BODY, SECRET, T - 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(BODY, header)


def test_future_timestamp_is_rejected() -> None:
    """A timestamp further ahead than the tolerance is refused too."""
    header = signing.sign(BODY, SECRET, T + 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(BODY, header)


def test_timestamp_at_the_edge_of_tolerance_passes() -> None:
    """Exactly 300 seconds of clock skew is still accepted."""
    assert verify(BODY, signing.sign(BODY, SECRET, T - 300)) == T - 300


def test_two_v1_values_of_which_one_is_valid_pass() -> None:
    """During rotation the sender signs twice; one matching value suffices."""
    header = (
        f"t={T},v1={signing.compute(BODY, 'whsec_old', T)},v1={signing.compute(BODY, SECRET, T)}"
    )
    assert verify(BODY, header) == T


def test_previous_secret_is_accepted_during_rotation() -> None:
    """A receiver configured with old and new secrets accepts either."""
    assert verify(BODY, signing.sign(BODY, "whsec_old", T), (SECRET, "whsec_old")) == T


def test_error_message_never_contains_the_secret_or_signature() -> None:
    """Verification errors are safe to log."""
    header = signing.sign(BODY, "whsec_other", T)
    with pytest.raises(WebhookVerificationError) as caught:
        verify(BODY, header)
    assert SECRET not in str(caught.value)
    assert header.split("v1=")[1] not in str(caught.value)


def _fake() -> FakeGateway:
    context = GatewayContext(shop_name="Shop", public_url="http://shop.test", clock=lambda: NOW)
    return FakeGateway(FakeOptions.model_validate({"webhook_secret": SECRET}), context)


def _signed(payload: object) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"storefront-signature": signing.sign(body, SECRET, T)}


def test_fake_gateway_ignores_unknown_event_types() -> None:
    """A well-signed event of a type we do not know yields no events."""
    body, headers = _signed({"id": "evt_9", "type": "account.updated", "created": T, "data": {}})
    assert _fake().verify_webhook(body, headers) == []


def test_fake_gateway_rejects_signed_but_malformed_events() -> None:
    """A signed body that is not a fake event is refused rather than half-parsed."""
    body, headers = _signed({"id": "evt_9", "type": "payment_succeeded", "data": {}})
    with pytest.raises(WebhookVerificationError, match="malformed"):
        _fake().verify_webhook(body, headers)


def test_fake_gateway_translates_a_signed_event() -> None:
    """A signed fake event becomes a normalized event with ids, amount and currency."""
    data = {"session_id": "fs_1", "order_id": "o1", "amount": 900, "currency": "EUR"}
    body, headers = _signed(
        {"id": "evt_1", "type": "payment_succeeded", "created": T, "data": data}
    )
    [event] = _fake().verify_webhook(body, headers)
    assert (event.kind, event.order_id, event.amount, event.currency) == (
        EventKind.PAYMENT_SUCCEEDED,
        "o1",
        900,
        "EUR",
    )
    assert event.occurred_at == NOW
