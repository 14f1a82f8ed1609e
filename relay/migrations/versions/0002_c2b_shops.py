"""C2B payments: shops, their tills, C2B payments and the claim audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Only new tables: existing deployments keep every row of 0001's tables as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shop',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('shortcode', sa.String(length=20), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('shortcode'),
    sa.UniqueConstraint('token')
    )
    op.create_table('shop_till',
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('till_id')
    )
    with op.batch_alter_table('shop_till', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_till_shop_id'), ['shop_id'], unique=False)

    op.create_table('c2b_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trans_id', sa.String(length=40), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('raw_callback_id', sa.Integer(), nullable=False),
    sa.Column('transaction_type', sa.String(length=100), nullable=False),
    sa.Column('trans_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('amount_kes', sa.Integer(), nullable=False),
    sa.Column('shortcode', sa.String(length=20), nullable=False),
    sa.Column('bill_ref', sa.String(length=100), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('phone_masked', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=120), nullable=True),
    sa.Column('claimed_till_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trans_id')
    )
    with op.batch_alter_table('c2b_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_c2b_payment_shop_id'), ['shop_id'], unique=False)

    op.create_table('claim_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('c2b_payment_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=120), nullable=True),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('claim_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_event_c2b_payment_id'), ['c2b_payment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('claim_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_event_c2b_payment_id'))
    op.drop_table('claim_event')
    with op.batch_alter_table('c2b_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_c2b_payment_shop_id'))
    op.drop_table('c2b_payment')
    with op.batch_alter_table('shop_till', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_till_shop_id'))
    op.drop_table('shop_till')
    op.drop_table('shop')
