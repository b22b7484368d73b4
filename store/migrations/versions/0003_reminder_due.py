"""reminders claimed by an indexed due time

Revision ID: 0003_reminder_due
Revises: 0002_money_facts
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = '0003_reminder_due'
down_revision: str | None = '0002_money_facts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
