"""What every store service needs, assembled once and passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from store.catalog import Catalog
from store.clock import Clock, utcnow
from store.config import StoreConfig, TierConfig
from store.db.engine import Database
from store.money import Money


@dataclass(frozen=True)
class StoreContext:
    db: Database
    catalog: Catalog
    config: StoreConfig
    tiers: Mapping[str, TierConfig]
    clock: Clock = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()

    def money(self, amount: int) -> Money:
        return Money(amount, self.config.currency)
