"""What every store service needs, assembled once and passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from store.clock import Clock, utcnow
from store.config import StoreConfig
from store.db.engine import Database
from store.shops import ShopDirectory


@dataclass(frozen=True)
class StoreContext:
    db: Database
    #: Each guild's shop: catalog, currency, tiers (see store.shops).
    shops: ShopDirectory
    #: The deployment's rules shared by every shop (cart size, checkout time, grace);
    #: its per-shop fields (name, currency, catalog...) are only the template's.
    config: StoreConfig
    clock: Clock = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()
