"""C2B payments to the till's shop, as the relay's feed reports them (paid to the till number directly).

Revision ID: 0004
Revises: 0003

One row per TransID (the primary key): the feed repeats a payment on every claim and release, and a
repeat only updates who holds it, so no payment is ever counted twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "c2b_payments",
        sa.Column("trans_id", sa.String(), primary_key=True),
        sa.Column("amount_kes", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False, server_default=""),
        sa.Column("phone", sa.String(), nullable=False, server_default=""),
        sa.Column("bill_ref", sa.String(), nullable=False, server_default=""),
        sa.Column("shortcode", sa.String(), nullable=False, server_default=""),
        sa.Column("paid_at", sa.String(32), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_c2b_payments_claimed_by", "c2b_payments", ["claimed_by"])


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
