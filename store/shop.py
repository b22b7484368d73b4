"""The store's front door: every service, built from one context."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from store.carts import CartService
from store.clock import Clock, utcnow
from store.config import StoreConfig, TierConfig
from store.context import StoreContext
from store.coupons import Coupons
from store.db.engine import Database
from store.fulfilment import Fulfilment
from store.grants import GrantService
from store.interaction_claims import InteractionClaims
from store.memberships import MembershipWorkers
from store.order_history import OrderHistory
from store.orders import OrderService
from store.outbox import Outbox
from store.reports import Reports
from store.shop_admin import ShopAdmin
from store.shops import ShopDefinition, ShopDirectory, ShopProfile
from store.subscriptions import Subscriptions
from store.views import AccountViews


class Shop:
    """Services sharing one database, catalog and clock. Built once, passed in."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx
        self.shops = ctx.shops
        self.carts = CartService(ctx)
        self.coupons = Coupons(ctx)
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
        self.admin = ShopAdmin(ctx)

    @classmethod
    def build(
        cls,
        db: Database,
        config: StoreConfig,
        tiers: Mapping[str, TierConfig],
        *,
        clock: Clock = utcnow,
        moderator_role_ids: Iterable[int] = (),
        audit_channel_id: int | None = None,
    ) -> Shop:
        """Validate the file's shop (every guild's template), assemble the services."""
        template = ShopProfile.from_config(
            config,
            tiers,
            moderator_role_ids=moderator_role_ids,
            audit_channel_id=audit_channel_id,
        )
        shops = ShopDirectory(db, template, clock=clock)
        return cls(StoreContext(db=db, shops=shops, config=config, clock=clock))

    @property
    def template(self) -> ShopDefinition:
        """The file's shop, which a guild's shop starts as."""
        return self.shops.template
