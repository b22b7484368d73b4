"""the deployment's own instance id

Revision ID: 0004_deployment
Revises: 0003_reminder_due
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = '0004_deployment'
down_revision: str | None = '0003_reminder_due'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deployment',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_deployment_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment'))
    )


def downgrade() -> None:
    op.drop_table('deployment')
