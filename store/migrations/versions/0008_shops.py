"""shops: each guild's shop (settings and catalog) in the database; the price each
cart line was added at

Revision ID: 0008_shops
Revises: 0007_item_stock
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = "0008_shops"
down_revision: str | None = "0007_item_stock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", store.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
    )
    with op.batch_alter_table("cart_lines") as batch:
        batch.add_column(sa.Column("unit_price", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("unit_currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cart_lines") as batch:
        batch.drop_column("unit_currency")
        batch.drop_column("unit_price")
    op.drop_table("shops")
