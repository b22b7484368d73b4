"""reminders claimed by an indexed due time; gift references for recipients

Revision ID: 0003_reminder_due
Revises: 0002_money_facts
Create Date: 2026-12-01

Tiers (and their reminder days) live in the configuration, not the database, so
the migration cannot compute each membership's next reminder. It marks every
membership that still runs as due now, and leaves `reminder_schedules` empty: the
reminder worker's first pass finds no tier's days recorded, so it reschedules every
running membership from its tier (store.reminder_settings) and then sends the
reminders actually due. Existing order lines get a random gift reference each.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import store.db.types
from store.gift_reference import new_gift_ref

revision: str = '0003_reminder_due'
down_revision: str | None = '0002_money_facts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_memberships = sa.table(
    'memberships',
    sa.column('permanent', sa.Boolean()),
    sa.column('expires_at', store.db.types.UTCDateTime()),
    sa.column('remind_at', store.db.types.UTCDateTime()),
)
_order_lines = sa.table(
    'order_lines', sa.column('id', sa.BigInteger()), sa.column('gift_ref', sa.String(16))
)


def upgrade() -> None:
    op.create_table(
        'reminder_schedules',
        sa.Column('tier', sa.String(length=40), nullable=False),
        sa.Column('reminder_days', sa.String(length=200), nullable=True),
        sa.Column('pending_days', sa.String(length=200), nullable=True),
        sa.Column('done_shop_id', sa.BigInteger(), nullable=True),
        sa.Column('done_member_id', sa.BigInteger(), nullable=True),
        sa.Column('updated_at', store.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tier', name=op.f('pk_reminder_schedules')),
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('remind_at', store.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index('ix_memberships_remind_at', ['remind_at'], unique=False)
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gift_ref', sa.String(length=16), nullable=True))

    now = datetime.now(UTC)
    op.execute(
        _memberships.update()
        .where(_memberships.c.permanent.is_(False))
        .where(_memberships.c.expires_at > now)
        .values(remind_at=now)
    )
    connection = op.get_bind()
    ids = [row.id for row in connection.execute(sa.select(_order_lines.c.id))]
    for start in range(0, len(ids), 1000):
        connection.execute(
            _order_lines.update()
            .where(_order_lines.c.id == sa.bindparam('line_id'))
            .values(gift_ref=sa.bindparam('ref')),
            [{'line_id': line_id, 'ref': new_gift_ref()} for line_id in ids[start : start + 1000]],
        )


def downgrade() -> None:
    op.drop_table('reminder_schedules')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('gift_ref')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_memberships_remind_at')
        batch_op.drop_column('remind_at')
