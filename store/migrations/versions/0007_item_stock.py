"""item_stock: what is left of each limited item's stock, per shop, and
which order lines hold some of it

Revision ID: 0007_item_stock
Revises: 0006_subscriptions
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_item_stock"
down_revision: str | None = "0006_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_stock",
        sa.Column("shop_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "sku", name=op.f("pk_item_stock")),
    )
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("stock_held", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("stock_held")
    op.drop_table("item_stock")
