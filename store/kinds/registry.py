"""Finding item kinds through the `storefront.items` entry point group."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from store.config import TierConfig
from store.errors import ConfigError
from store.kinds.base import ItemKind


def installed_kinds() -> dict[str, type[ItemKind]]:
    """Every registered kind, built-ins included (they are registered the same way)."""
    found: dict[str, type[ItemKind]] = {}
    for entry in entry_points(group="storefront.items"):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, ItemKind)):
            raise ConfigError(f"entry point storefront.items:{entry.name} is not an ItemKind")
        found[entry.name] = cls
    return found


def load_kinds(
    tiers: Mapping[str, TierConfig],
    available: Mapping[str, type[ItemKind]] | None = None,
) -> dict[str, ItemKind]:
    classes = installed_kinds() if available is None else available
    return {name: cls(tiers) for name, cls in classes.items()}
