"""subscriptions: the gateway's facts about each, and the time each renewal added

Revision ID: 0006_subscriptions
Revises: 0005_interaction_claims
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = "0006_subscriptions"
down_revision: str | None = "0005_interaction_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, store.db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("gateway", sa.String(length=40), nullable=False),
        sa.Column("gateway_ref", sa.String(length=255), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("order_line_id", _ID, nullable=True),
        sa.Column("first_invoice_id", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        _moment("current_period_end", nullable=True),
        _moment("created_at", nullable=False),
        _moment("updated_at", nullable=False),
        sa.Column("manage_token", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("gateway", "gateway_ref", name="uq_subscriptions_gateway_ref"),
        sa.UniqueConstraint("manage_token", name="uq_subscriptions_manage_token"),
    )
    op.create_index("ix_subscriptions_member", "subscriptions", ["shop_id", "member_id"])
    op.create_index("ix_subscriptions_order", "subscriptions", ["order_id"])
    op.create_table(
        "subscription_keys",
        sa.Column("gateway", sa.String(length=40), nullable=False),
        sa.Column("gateway_ref", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("gateway", "gateway_ref", name=op.f("pk_subscription_keys")),
    )
    op.create_table(
        "subscription_facts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("gateway", sa.String(length=40), nullable=False),
        sa.Column("gateway_ref", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("invoice_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        _moment("occurred_at", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        _moment("period_end", nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=True),
        _moment("recorded_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_facts")),
        sa.UniqueConstraint(
            "gateway",
            "gateway_ref",
            "kind",
            "invoice_id",
            "subject",
            name="uq_subscription_facts_key",
        ),
    )
    op.create_table(
        "subscription_periods",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("invoice_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("gained_seconds", sa.BigInteger(), nullable=False),
        _moment("applied_at", nullable=False),
        _moment("taken_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_periods_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_periods")),
        sa.UniqueConstraint(
            "subscription_id", "invoice_id", "kind", name="uq_subscription_periods_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("subscription_periods")
    op.drop_table("subscription_facts")
    op.drop_table("subscription_keys")
    op.drop_index("ix_subscriptions_member", table_name="subscriptions")
    op.drop_table("subscriptions")
