"""Every installed gateway can be offered by name on a checkout button."""

from __future__ import annotations

import pytest

from payments.registry import gateway_class, installed_gateways


@pytest.mark.parametrize("name", sorted(installed_gateways()))
def test_every_gateway_has_a_button_label(name: str) -> None:
    """The label fits a Discord button (1 to 80 characters) and is not just blank."""
    label = gateway_class(name).label()
    assert 1 <= len(label) <= 80
    assert label.strip() == label


def test_a_gateway_that_takes_no_money_says_so_in_its_label() -> None:
    """Members choosing between gateways see which one is a test."""
    assert "test" in gateway_class("fake").label().lower()
