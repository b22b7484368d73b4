"""Finding gateway plugins and building the configured one."""

from __future__ import annotations

import pytest

from payments.errors import GatewayConfigError, GatewayNotInstalled
from payments.fake import FakeGateway
from payments.gateway import GatewayContext
from payments.registry import installed_gateways, load_gateway

CONTEXT = GatewayContext(shop_name="Shop", public_url="http://shop.test")


def test_built_in_gateways_are_found_as_entry_points() -> None:
    """The built-ins are registered the same way a third party's would be."""
    assert {"fake", "stripe"} <= set(installed_gateways())


def test_discovery_does_not_load_any_gateway() -> None:
    """Listing installed gateways only names them; nothing is imported or enabled."""
    entry_point = installed_gateways()["fake"]
    assert entry_point.value == "payments.fake:FakeGateway"


def test_configured_gateway_is_built_from_its_options() -> None:
    """The named gateway is constructed with its validated sub-table."""
    gateway = load_gateway("fake", {"webhook_secret": "s3cret"}, CONTEXT)
    assert isinstance(gateway, FakeGateway)
    assert gateway.options.webhook_secret.get_secret_value() == "s3cret"


def test_unknown_gateway_names_the_installed_ones() -> None:
    """A gateway that is not installed stops startup with the list of those that are."""
    with pytest.raises(GatewayNotInstalled) as caught:
        load_gateway("paypal", {}, CONTEXT)
    assert str(caught.value) == (
        "payment gateway 'paypal' is not installed (installed gateways: "
        + ", ".join(sorted(installed_gateways()))
        + ")"
    )


def test_missing_option_names_the_key() -> None:
    """A missing required option is reported by its config path."""
    with pytest.raises(GatewayConfigError) as caught:
        load_gateway("stripe", {"webhook_secret": "whsec_x"}, CONTEXT)
    assert str(caught.value) == "payments.stripe.api_key: field required"


def test_misspelt_option_names_the_key() -> None:
    """A typo in the config table is an error rather than silently ignored."""
    with pytest.raises(GatewayConfigError, match=r"payments\.fake\.webhook_secert: extra"):
        load_gateway("fake", {"webhook_secret": "s", "webhook_secert": "s"}, CONTEXT)


def test_config_errors_do_not_echo_secret_values() -> None:
    """A wrongly typed secret is reported without its value."""
    with pytest.raises(GatewayConfigError) as caught:
        load_gateway(
            "fake", {"webhook_secret": "whsec_abc", "max_delivery_attempts": "sk_1"}, CONTEXT
        )
    assert "payments.fake.max_delivery_attempts" in str(caught.value)
    assert "sk_1" not in str(caught.value)


def test_fake_refuses_to_load_in_production() -> None:
    """The fake takes no money, so a production config naming it stops startup."""
    context = GatewayContext(shop_name="Shop", public_url="https://shop", environment="production")
    with pytest.raises(GatewayConfigError, match="production"):
        load_gateway("fake", {"webhook_secret": "s"}, context)
