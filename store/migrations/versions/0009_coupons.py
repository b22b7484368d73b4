"""coupons and coupon_uses; the coupon a cart applies and an order used

Revision ID: 0009_coupons
Revises: 0008_shops
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_coupons"
down_revision: str | None = "0008_shops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "coupons",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("min_order", sa.BigInteger(), nullable=False),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("per_member_limit", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("uses >= 0", name=op.f("ck_coupons_uses_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("shop_id", "code", name="uq_coupons_code"),
    )
    op.create_table(
        "coupon_uses",
        sa.Column("order_id", big_id, autoincrement=False, nullable=False),
        sa.Column("coupon_id", big_id, nullable=False),
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_coupon_uses")),
    )
    op.create_index("ix_coupon_uses_member", "coupon_uses", ["coupon_id", "member_id"])
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("coupon_code", sa.String(length=32), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("discount", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("coupon_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("coupon_code")
        batch.drop_column("discount")
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("coupon_code")
    op.drop_index("ix_coupon_uses_member", table_name="coupon_uses")
    op.drop_table("coupon_uses")
    op.drop_table("coupons")
