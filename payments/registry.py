"""Finding gateway plugins and building the configured one.

Discovery never enables a gateway: only the name chosen in ``[payments] gateway`` is
loaded, so installing a package cannot silently change where money goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from payments.errors import GatewayConfigError, GatewayNotInstalled
from payments.gateway import Gateway, GatewayContext

ENTRY_POINT_GROUP = "storefront.gateways"


def installed_gateways() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def gateway_class(name: str) -> type[Gateway]:
    installed = installed_gateways()
    entry_point = installed.get(name)
    if entry_point is None:
        raise GatewayNotInstalled(name, installed)
    loaded = entry_point.load()
    if not (isinstance(loaded, type) and issubclass(loaded, Gateway)):
        raise GatewayConfigError(
            f"entry point {name!r} ({entry_point.value}) is not a payments.gateway.Gateway"
        )
    return loaded


def describe_errors(prefix: str, error: ValidationError) -> str:
    """One line per bad key, named as in the config file; input values are left out
    because they may be secrets."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in (prefix, *item["loc"]))
        lines.append(f"{key}: {item['msg'][:1].lower()}{item['msg'][1:]}")
    return "; ".join(lines)


def load_gateway(name: str, options: Mapping[str, Any], context: GatewayContext) -> Gateway:
    """Build the gateway ``name`` from its ``[payments.<name>]`` table."""
    cls = gateway_class(name)
    try:
        validated = cls.Options.model_validate(dict(options))
    except ValidationError as error:
        raise GatewayConfigError(describe_errors(f"payments.{name}", error)) from None
    return cls(validated, context)
