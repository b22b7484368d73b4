"""The tables. Every row belongs to a shop (a Discord guild id).

Core tables rather than ORM classes: the store's hot paths are a handful of
statements each, and the benchmark counts every round trip.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from store.db.types import BigId, UTCDateTime
from store.gift_reference import new_gift_ref

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

carts = Table(
    "carts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    # The coupon the member applied (store.coupons), checked again at checkout.
    Column("coupon_code", String(32), nullable=True),
    UniqueConstraint("shop_id", "member_id", name="uq_carts_member"),
)

cart_lines = Table(
    "cart_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("cart_id", BigId, ForeignKey("carts.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("recipient_id", BigInteger, nullable=False),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
    # Set when a line came back from an order that expired or failed, so a late
    # payment for that order can take it out of the cart again.
    Column("from_order_id", BigId, nullable=True),
    # The unit price when the line was added (or last shown at checkout), so a price
    # changed since is flagged to the member and never charged unseen. None: added
    # before prices were noted.
    Column("unit_price", BigInteger, nullable=True),
    Column("unit_currency", String(3), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_cart_lines_cart", "cart_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("buyer_id", BigInteger, nullable=False),
    Column("state", String(24), nullable=False),
    Column("state_before_dispute", String(24), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("points_applied", BigInteger, nullable=False, default=0),
    Column("points_value", BigInteger, nullable=False, default=0),
    Column("cash_due", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False, default=0),
    # cart id and version: two checkouts of one cart state make one order.
    Column("checkout_key", String(64), nullable=False),
    Column("gateway", String(40), nullable=True),
    Column("gateway_session_id", String(255), nullable=True),
    Column("checkout_url", Text, nullable=True),
    Column("checkout_expires_at", UTCDateTime, nullable=True),
    Column("review_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime, nullable=True),
    Column("fulfilled_at", UTCDateTime, nullable=True),
    # The gateway's own reference of the captured payment (Stripe's payment intent):
    # later refund and dispute events may name the order's payment by it.
    Column("payment_ref", String(255), nullable=True),
    # Points held for this order right now (checkout reserves them; capture, lapse or
    # refund of an unfulfilled order clears them), so a release frees exactly these.
    Column("points_reserved", BigInteger, nullable=False, default=0),
    # What a coupon took off the subtotal, and its code (store.coupons).
    Column("discount", BigInteger, nullable=False, default=0, server_default="0"),
    Column("coupon_code", String(32), nullable=True),
    UniqueConstraint("shop_id", "checkout_key", name="uq_orders_checkout_key"),
    Index("ix_orders_buyer", "shop_id", "buyer_id"),
    Index("ix_orders_state", "state", "updated_at"),
    Index("ix_orders_session", "gateway", "gateway_session_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("sku", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("name", String(80), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("recipient_id", BigInteger, nullable=False),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
    Column("spec", JSON, nullable=False),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("clawed_back_at", UTCDateTime, nullable=True),
    # What the recipient of a gift is shown instead of the buyer's order number.
    Column("gift_ref", String(16), nullable=True, default=new_gift_ref),
    # Whether the line holds units of its item's stock: None when the item had no stock
    # at checkout, true while held, false once a lapse gave them back (store.stock).
    Column("stock_held", Boolean, nullable=True),
    Index("ix_order_lines_order", "order_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("shop_id", BigInteger, primary_key=True),
    Column("member_id", BigInteger, primary_key=True),
    Column("points", BigInteger, nullable=False, default=0),
    Column("points_reserved", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("points >= 0", name="points_not_negative"),
    CheckConstraint("points_reserved >= 0 AND points_reserved <= points", name="reserved_covered"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("shop_id", BigInteger, primary_key=True),
    Column("member_id", BigInteger, primary_key=True),
    Column("tier", String(40), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("permanent", Boolean, nullable=False, default=False),
    # The smallest reminder step (days before expiry) already sent for this expiry.
    Column("reminded_days", Integer, nullable=True),
    # Whether the member should hold the tier's role; cleared once removal is claimed.
    Column("role_active", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # When the next expiry reminder is due (store.reminder_schedule); None: none left.
    Column("remind_at", UTCDateTime, nullable=True),
    Index("ix_memberships_expiry", "expires_at"),
    Index("ix_memberships_remind_at", "remind_at"),
)

# The reminder days each tier's running memberships are scheduled with, so that
# changed settings reach them (store.reminder_settings). Tiers are configured for
# the whole deployment, not per shop. Days are written "14,3"; "" means none.
reminder_schedules = Table(
    "reminder_schedules",
    metadata,
    Column("tier", String(40), primary_key=True),
    # The days every running membership of the tier is scheduled with; None: not known.
    Column("reminder_days", String(200), nullable=True),
    # A rescheduling under way: the days it applies and the last membership it did.
    Column("pending_days", String(200), nullable=True),
    Column("done_shop_id", BigInteger, nullable=True),
    Column("done_member_id", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reason", String(24), nullable=False),
    Column("points_delta", BigInteger, nullable=False, default=0),
    Column("tier", String(40), nullable=True),
    Column("expires_before", UTCDateTime, nullable=True),
    Column("expires_after", UTCDateTime, nullable=True),
    Column("permanent_before", Boolean, nullable=True),
    Column("permanent_after", Boolean, nullable=True),
    Column("actor_id", BigInteger, nullable=True),
    Column("order_id", BigId, nullable=True),
    Column("order_line_id", BigId, nullable=True),
    Column("grant_id", BigId, nullable=True),
    Column("memo", Text, nullable=True),
    Index("ix_ledger_member", "shop_id", "member_id", "id"),
    Index("ix_ledger_order", "order_id"),
)

grants = Table(
    "grants",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("actor_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("action", String(24), nullable=False),
    Column("points", BigInteger, nullable=True),
    Column("tier", String(40), nullable=True),
    Column("months", Integer, nullable=True),
    Column("days", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_grants_member", "shop_id", "member_id"),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("gateway", String(40), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("order_id", BigId, nullable=True),
    Column("session_id", String(255), nullable=True),
    Column("amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    # The refund or dispute the event is about, and the gateway's payment reference.
    Column("subject_id", String(255), nullable=True),
    Column("payment_ref", String(255), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("detail", Text, nullable=True),
    UniqueConstraint("gateway", "event_id", name="uq_payment_events_gateway_event"),
    Index("ix_payment_events_pending", "applied_at"),
    Index("ix_payment_events_order", "order_id"),
)

# What happened to an order's money, one row per fact (captured, each refund, each
# dispute step, a moderator's acceptance). `ref` is unique per order, so a duplicate
# or replayed event is one fact; what the member keeps is decided from these rows
# (store.settlement).
order_money_facts = Table(
    "order_money_facts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("ref", String(255), nullable=False),
    # The refund or dispute a fact belongs to ("" for the capture and acceptance).
    Column("subject", String(255), nullable=False),
    Column("amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("gateway", String(40), nullable=True),
    Column("event_id", String(255), nullable=True),
    Column("actor_id", BigInteger, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("order_id", "ref", name="uq_order_money_facts_ref"),
)

# What the bot must still do in Discord for a committed change (roles, DMs).
# Written in the same transaction as the change, so a crash loses nothing.
effects = Table(
    "effects",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("order_id", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    # A process delivering an effect leases it; an expired lease lets another retry.
    Column("leased_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("outcome", Text, nullable=True),
    Index("ix_effects_pending", "done_at", "id"),
)

# What is left of an item's configured stock in a shop. Seeded from the configuration
# the first time the item is sold there; checkout takes units, a lapsed order gives
# them back (see store.stock). Below zero only when a lapsed order was paid after all.
item_stock = Table(
    "item_stock",
    metadata,
    Column("shop_id", BigInteger, primary_key=True, autoincrement=False),
    Column("sku", String(40), primary_key=True),
    Column("remaining", Integer, nullable=False),
)

# One row: this deployment's instance id, marked on everything sent to the gateway so
# deployments sharing one gateway account can tell their events apart.
deployment = Table(
    "deployment",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("instance_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# One row per guild's shop: its settings and catalog as one JSON document (see
# store.shops). Created from the configuration file on first use, and follows the file
# until a moderator first changes it from Discord (`managed`); every change bumps
# `version`, which each process polls to reload the shops it holds.
shops = Table(
    "shops",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("managed", Boolean, nullable=False, default=False),
    Column("profile", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Interaction ids already taken by a process: Discord may deliver one interaction to
# several (two sessions on one token, a retried HTTP request), and only the process
# whose insert wins handles it. Kept for an hour, far past a token's 15 minutes.
interaction_claims = Table(
    "interaction_claims",
    metadata,
    Column("interaction_id", BigInteger, primary_key=True, autoincrement=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Index("ix_interaction_claims_claimed_at", "claimed_at"),
)

# Memberships that renew through a gateway. The first period is an ordinary order
# line; every later one is decided from `subscription_facts` (store.subscriptions).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("tier", String(40), nullable=False),
    Column("sku", String(40), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("gateway", String(40), nullable=False),
    # The gateway's own id of the subscription.
    Column("gateway_ref", String(255), nullable=False),
    Column("order_id", BigId, nullable=True),
    Column("order_line_id", BigId, nullable=True),
    # The invoice the order paid (the first period), never counted as a renewal.
    Column("first_invoice_id", String(255), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    Column("current_period_end", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The unguessable part of the member's own "update payment" link on the shop, which
    # asks the gateway for a fresh page each time (Stripe's portal sessions are brief).
    Column("manage_token", String(64), nullable=True),
    UniqueConstraint("gateway", "gateway_ref", name="uq_subscriptions_gateway_ref"),
    UniqueConstraint("manage_token", name="uq_subscriptions_manage_token"),
    Index("ix_subscriptions_member", "shop_id", "member_id"),
    Index("ix_subscriptions_order", "order_id"),
)

# One row per gateway subscription, made by whichever comes first, its start or a
# fact about it, and locked by both: on PostgreSQL a fact recorded while the
# subscription is being started waits for it instead of being settled by neither.
subscription_keys = Table(
    "subscription_keys",
    metadata,
    Column("gateway", String(40), primary_key=True),
    Column("gateway_ref", String(255), primary_key=True),
)

# What the gateway said about a subscription, once per (kind, invoice): a replayed
# event is the same row. `invoice_id` is "" for facts about no invoice; a status
# snapshot keeps the latest report, the other kinds the earliest.
subscription_facts = Table(
    "subscription_facts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("gateway", String(40), nullable=False),
    Column("gateway_ref", String(255), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("invoice_id", String(255), nullable=False, default=""),
    # What the fact is about within its invoice, when there can be several: each refund.
    Column("subject", String(255), nullable=False, default=""),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("amount", BigInteger, nullable=True),
    Column("period_end", UTCDateTime, nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "gateway",
        "gateway_ref",
        "kind",
        "invoice_id",
        "subject",
        name="uq_subscription_facts_key",
    ),
)

# The time each renewal (or grace) actually added, so taking it back removes exactly that.
subscription_periods = Table(
    "subscription_periods",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        BigId,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("invoice_id", String(255), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("gained_seconds", BigInteger, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    Column("taken_at", UTCDateTime, nullable=True),
    UniqueConstraint("subscription_id", "invoice_id", "kind", name="uq_subscription_periods_key"),
)

# Discount codes a shop's moderators create (store.coupons). `uses` counts the uses
# held by orders not yet lapsed, paid or not, so the conditional UPDATE that takes one
# never lets concurrent checkouts pass `max_uses`.
coupons = Table(
    "coupons",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", BigInteger, nullable=False),
    Column("code", String(32), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("min_order", BigInteger, nullable=False, default=0),
    Column("skus", JSON, nullable=False),
    Column("max_uses", Integer, nullable=True),
    Column("per_member_limit", Integer, nullable=True),
    Column("uses", Integer, nullable=False, default=0),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("retired_at", UTCDateTime, nullable=True),
    Column("created_by", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("shop_id", "code", name="uq_coupons_code"),
    CheckConstraint("uses >= 0", name="uses_not_negative"),
)

# The use of a coupon an order holds: at most one per order. A lapsed or refunded
# order releases it (`released_at`), which gives the use back to the coupon.
coupon_uses = Table(
    "coupon_uses",
    metadata,
    Column("order_id", BigId, primary_key=True, autoincrement=False),
    Column("coupon_id", BigId, nullable=False),
    Column("shop_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("released_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_coupon_uses_member", "coupon_id", "member_id"),
)
