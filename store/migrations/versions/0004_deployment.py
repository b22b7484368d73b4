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
    pass


def downgrade() -> None:
    pass
