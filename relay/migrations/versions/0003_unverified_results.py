"""Unverified results: a callback on the seed path from an address not on Safaricom's list is a hint

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Two columns with a server default: existing rows are verified, as they were decided before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('stk_result', 'payment'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('unverified', sa.Boolean(), server_default=sa.false(), nullable=False)
            )


def downgrade() -> None:
    for table in ('payment', 'stk_result'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('unverified')
