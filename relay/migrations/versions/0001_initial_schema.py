"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('feed_entry',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('feed_entry', schema=None) as batch_op:
        batch_op.create_index('ix_feed_entry_till_seq', ['till_id', 'seq'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=120), nullable=False),
    sa.Column('checkout_request_id', sa.String(length=120), nullable=False),
    sa.Column('amount_kes', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('receipt', sa.String(length=40), nullable=True),
    sa.Column('result_code', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('paid_amount_kes', sa.Integer(), nullable=True),
    sa.Column('anomaly', sa.String(length=40), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('checkout_request_id')
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_registered_at'), ['registered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_till_id'), ['till_id'], unique=False)
        batch_op.create_index('ix_payment_till_order', ['till_id', 'order_id'], unique=False)

    op.create_table('raw_callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('token', sa.String(length=300), nullable=True),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('source_ip', sa.String(length=64), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('checkout_request_id', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('raw_callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_callback_checkout_request_id'), ['checkout_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_callback_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_callback_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_callback_till_id'), ['till_id'], unique=False)

    op.create_table('selftest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkout_request_id', sa.String(length=120), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('raw_callback_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('selftest', schema=None) as batch_op:
        batch_op.create_index('ix_selftest_till_checkout', ['till_id', 'checkout_request_id'], unique=False)

    op.create_table('stk_result',
    sa.Column('checkout_request_id', sa.String(length=120), nullable=False),
    sa.Column('raw_callback_id', sa.Integer(), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('merchant_request_id', sa.String(length=120), nullable=False),
    sa.Column('result_code', sa.String(length=40), nullable=False),
    sa.Column('result_desc', sa.Text(), nullable=False),
    sa.Column('amount_text', sa.String(length=40), nullable=True),
    sa.Column('amount_kes', sa.Integer(), nullable=True),
    sa.Column('receipt', sa.String(length=40), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('transaction_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('contradictions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('checkout_request_id')
    )
    with op.batch_alter_table('stk_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stk_result_receipt'), ['receipt'], unique=False)
        batch_op.create_index(batch_op.f('ix_stk_result_till_id'), ['till_id'], unique=False)

    op.create_table('till',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('token')
    )


def downgrade() -> None:
    op.drop_table('till')
    with op.batch_alter_table('stk_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stk_result_till_id'))
        batch_op.drop_index(batch_op.f('ix_stk_result_receipt'))

    op.drop_table('stk_result')
    with op.batch_alter_table('selftest', schema=None) as batch_op:
        batch_op.drop_index('ix_selftest_till_checkout')

    op.drop_table('selftest')
    with op.batch_alter_table('raw_callback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_raw_callback_till_id'))
        batch_op.drop_index(batch_op.f('ix_raw_callback_status'))
        batch_op.drop_index(batch_op.f('ix_raw_callback_received_at'))
        batch_op.drop_index(batch_op.f('ix_raw_callback_checkout_request_id'))

    op.drop_table('raw_callback')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_till_order')
        batch_op.drop_index(batch_op.f('ix_payment_till_id'))
        batch_op.drop_index(batch_op.f('ix_payment_status'))
        batch_op.drop_index(batch_op.f('ix_payment_registered_at'))

    op.drop_table('payment')
    with op.batch_alter_table('feed_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_entry_till_seq')

    op.drop_table('feed_entry')
