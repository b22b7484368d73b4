"""The store's front door: every service, built from one context."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from store.carts import CartService
from store.catalog import Catalog
from store.clock import Clock, utcnow
from store.config import StoreConfig, TierConfig
from store.context import StoreContext
from store.db.engine import Database
from store.fulfilment import Fulfilment
from store.grants import GrantService
from store.interaction_claims import InteractionClaims
from store.kinds.registry import load_kinds
from store.memberships import MembershipWorkers
from store.order_history import OrderHistory
from store.orders import OrderService
from store.outbox import Outbox
from store.reports import Reports
from store.subscriptions import Subscriptions
from store.views import AccountViews


class Shop:
    """Services sharing one database, catalog and clock. Built once, passed in."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx
        self.catalog = ctx.catalog
        self.carts = CartService(ctx)
        self.orders = OrderService(ctx, self.carts)
        self.history = OrderHistory(ctx)
        self.reports = Reports(ctx)
        self.fulfilment = Fulfilment(ctx)
        self.grants = GrantService(ctx)
        self.accounts = AccountViews(ctx)
        self.outbox = Outbox(ctx)
        self.memberships = MembershipWorkers(ctx)
        self.interaction_claims = InteractionClaims(ctx)
        self.subscriptions = Subscriptions(ctx, timedelta(days=ctx.config.subscription_grace_days))

    @classmethod
    def build(
        cls,
        db: Database,
        config: StoreConfig,
        tiers: Mapping[str, TierConfig],
        *,
        clock: Clock = utcnow,
    ) -> Shop:
        """Load the installed item kinds, validate the catalog, assemble the services."""
        kinds = load_kinds(tiers)
        catalog = Catalog.from_config(config, tiers, kinds)
        ctx = StoreContext(db=db, catalog=catalog, config=config, tiers=tiers, clock=clock)
        return cls(ctx)
