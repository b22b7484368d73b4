"""interaction ids claimed once, so a duplicate delivery is handled by one process

Revision ID: 0005_interaction_claims
Revises: 0004_deployment
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = "0005_interaction_claims"
down_revision: str | None = "0004_deployment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interaction_claims",
        sa.Column("interaction_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("claimed_at", store.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_interaction_claims")),
    )
    op.create_index(
        "ix_interaction_claims_claimed_at", "interaction_claims", ["claimed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_interaction_claims_claimed_at", table_name="interaction_claims")
    op.drop_table("interaction_claims")
