"""Rotating the Stripe webhook secret from the environment, end to end.

The settings are loaded from STOREFRONT_* variables as `storefront run` loads them and the
gateway is the one `build_storefront` builds from them; only the webhook's signature varies.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator

import pytest
from payments_harness import Clock
from stripe_api_stub import StripeStub, signed

from bot.app import StorefrontBot
from bot.runtime import build_storefront
from bot.settings import SettingsError, load_settings
from payments.errors import WebhookVerificationError
from payments.models import EventKind

OLD = "whsec_rotation_old_0001"
OLDER = "whsec_rotation_older_0002"
NEW = "whsec_rotation_new_0003"


@pytest.fixture
def rotating_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str], stripe_stub: StripeStub
) -> Iterator[None]:
    """Stripe chosen, the new secret current and two old ones kept, all from the environment."""
    for name in list(os.environ):
        if name.startswith("STOREFRONT_") and not name.startswith("STOREFRONT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAY", "stripe")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__API_KEY", "sk_test_rotation")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__API_BASE", stripe_stub.url)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__WEBHOOK_SECRET", NEW)
    monkeypatch.setenv(
        "STOREFRONT_PAYMENTS__STRIPE__PREVIOUS_WEBHOOK_SECRETS", f'["{OLD}", "{OLDER}"]'
    )
    yield


@pytest.fixture
def bot_from_env(rotating_env: None, clock: Clock) -> StorefrontBot:
    return build_storefront(load_settings(), clock=clock).bot


def _paid_body(stub: StripeStub, clock: Clock) -> bytes:
    session = copy.deepcopy(stub.fixtures["checkout.session"])
    session.update(
        id="cs_rotation_1",
        amount_total=300,
        currency="usd",
        client_reference_id="7",
        metadata={"order_id": "7"},
        status="complete",
        payment_status="paid",
        payment_intent="pi_rotation_1",
    )
    return stub.event("checkout.session.completed", session, int(clock().timestamp()))


@pytest.mark.parametrize("secret", [OLD, OLDER, NEW])
def test_webhooks_signed_with_a_previous_or_the_current_secret_verify(
    bot_from_env: StorefrontBot, stripe_stub: StripeStub, clock: Clock, secret: str
) -> None:
    """Each secret named in the environment, old or new, verifies a webhook."""
    body = _paid_body(stripe_stub, clock)
    headers = signed(body, secret, int(clock().timestamp()))
    [event] = bot_from_env.gateway.verify_webhook(body, headers)
    assert event.kind == EventKind.PAYMENT_SUCCEEDED


def test_a_secret_not_in_the_environment_is_refused(
    bot_from_env: StorefrontBot, stripe_stub: StripeStub, clock: Clock
) -> None:
    """A webhook signed with any other secret is refused, so rotation is not a bypass."""
    body = _paid_body(stripe_stub, clock)
    headers = signed(body, "whsec_rotation_unknown", int(clock().timestamp()))
    with pytest.raises(WebhookVerificationError):
        bot_from_env.gateway.verify_webhook(body, headers)


def test_previous_secrets_from_the_environment_are_masked(rotating_env: None) -> None:
    """The rotated secrets load as a list, and neither repr nor masked() shows them."""
    settings = load_settings()
    assert settings.payments.gateway_options()["previous_webhook_secrets"] == [OLD, OLDER]
    shown = repr(settings) + str(settings.masked())
    for secret in (OLD, OLDER, NEW, "sk_test_rotation"):
        assert secret not in shown


def test_a_previous_secrets_variable_that_is_not_json_is_one_clear_error(
    rotating_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare secret instead of a JSON list names the key, and does not echo the value."""
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__PREVIOUS_WEBHOOK_SECRETS", OLD)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("payments.stripe.previous_webhook_secrets: takes a list")
    assert OLD not in message
