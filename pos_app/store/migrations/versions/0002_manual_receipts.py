"""Manual receipt entry: who entered it, when, verified or not and why; one receipt per sale.

Revision ID: 0002
Revises: 0001

A store written by 0001 may hold the same receipt on two attempts (nothing prevented it). The unique
index would then fail, so the later copies are moved into the anomaly fields for the owner to review
instead of being dropped: an upgrade never loses data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_attempts") as batch:
        batch.add_column(sa.Column("manual_verified", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("manual_reason", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("manual_by", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("manual_at", sa.String(32), nullable=True))
    connection = op.get_bind()
    duplicates = connection.execute(
        sa.text(
            "SELECT a.id, a.receipt, (SELECT b.id FROM payment_attempts b WHERE b.receipt = a.receipt "
            "ORDER BY b.created_at, b.id LIMIT 1) AS first_id FROM payment_attempts a "
            "WHERE a.receipt IS NOT NULL AND a.id != (SELECT b.id FROM payment_attempts b "
            "WHERE b.receipt = a.receipt ORDER BY b.created_at, b.id LIMIT 1)"
        )
    ).fetchall()
    for attempt_id, receipt, first_id in duplicates:
        connection.execute(
            sa.text(
                "UPDATE payment_attempts SET anomaly = 'duplicate_receipt', "
                "anomaly_detail = :detail, receipt = NULL WHERE id = :id"
            ),
            {"detail": f"receipt {receipt} is also on attempt {first_id}", "id": attempt_id},
        )
    op.drop_index("ix_payment_attempts_receipt_lookup", table_name="payment_attempts")
    op.create_index("ix_payment_attempts_receipt", "payment_attempts", ["receipt"], unique=True)


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
