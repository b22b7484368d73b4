"""order money facts

Revision ID: 0002_money_facts
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.db.types

revision: str = '0002_money_facts'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_money_facts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('gateway', sa.String(length=40), nullable=True),
    sa.Column('event_id', sa.String(length=255), nullable=True),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('recorded_at', store.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_money_facts_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_money_facts')),
    sa.UniqueConstraint('order_id', 'ref', name='uq_order_money_facts_ref')
    )
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('payment_ref', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('points_reserved', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('payment_events') as batch:
        batch.add_column(sa.Column('subject_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('payment_ref', sa.String(length=255), nullable=True))
    # Orders from before the facts: their reservations, and the facts their state implies,
    # so the decision made on their next event starts from what already happened.
    op.execute("UPDATE orders SET points_reserved = points_applied WHERE state IN ('pending', 'held')")
    _facts("'capture'", "'captured'", "cash_due", "state IN ('paid', 'fulfilled', 'partially_refunded', 'disputed', 'refunded', 'charged_back')")
    _facts("'capture'", "'captured'", "NULL", "state = 'held'")
    _facts("'refund:migrated:refund_succeeded'", "'refund_succeeded'", "refunded", "refunded > 0")
    _facts("'refund:migrated:refund_succeeded'", "'refund_succeeded'", "cash_due", "state = 'refunded' AND refunded = 0")
    _facts("'dispute:migrated:dispute_opened'", "'dispute_opened'", "cash_due", "state = 'disputed'")
    _facts("'dispute:migrated:dispute_lost'", "'dispute_lost'", "cash_due", "state = 'charged_back'")


def _facts(ref: str, kind: str, amount: str, where: str) -> None:
    subject = "''" if ref == "'capture'" else "'migrated'"
    op.execute(
        "INSERT INTO order_money_facts "
        "(order_id, kind, ref, subject, amount, currency, recorded_at) "
        f"SELECT id, {kind}, {ref}, {subject}, {amount}, currency, updated_at "
        f"FROM orders WHERE {where}"
    )


def downgrade() -> None:
    with op.batch_alter_table('payment_events') as batch:
        batch.drop_column('payment_ref')
        batch.drop_column('subject_id')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('points_reserved')
        batch.drop_column('payment_ref')
    op.drop_table('order_money_facts')
