"""The first schema: sales, payment attempts, the audit trail, settings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("description", sa.String(), nullable=False, server_default=""),
        sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("sale_id", sa.String(16), sa.ForeignKey("sales.id"), nullable=False),
        sa.Column("amount_kes", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(12), nullable=False),
        sa.Column("description", sa.String(), nullable=False, server_default=""),
        sa.Column("account_reference", sa.String(), nullable=False, server_default=""),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("result_code", sa.String(), nullable=True),
        sa.Column("result_desc", sa.String(), nullable=False, server_default=""),
        sa.Column("reason", sa.String(), nullable=False, server_default=""),
        sa.Column("receipt", sa.String(), nullable=True),
        sa.Column("method", sa.String(), nullable=False, server_default="stk"),
        sa.Column("merchant_request_id", sa.String(), nullable=True),
        sa.Column("checkout_request_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("push_started_at", sa.String(32), nullable=True),
        sa.Column("prompt_sent_at", sa.String(32), nullable=True),
        sa.Column("settled_at", sa.String(32), nullable=True),
        sa.Column("wait_deadline_at", sa.String(32), nullable=True),
        sa.Column("anomaly", sa.String(), nullable=True),
        sa.Column("anomaly_detail", sa.String(), nullable=False, server_default=""),
        sa.Column("customer_confirmed_no_sms", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("relay_registered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_index("ix_payment_attempts_sale_id", "payment_attempts", ["sale_id"])
    op.create_index("ix_payment_attempts_state", "payment_attempts", ["state"])
    op.create_index("ix_payment_attempts_created_at", "payment_attempts", ["created_at"])
    op.create_index(
        "ix_payment_attempts_checkout_request_id", "payment_attempts", ["checkout_request_id"], unique=True
    )
    op.create_index("ix_payment_attempts_receipt_lookup", "payment_attempts", ["receipt"])
    op.create_table(
        "audit_trail",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("attempt_id", sa.String(), nullable=True),
        sa.Column("sale_id", sa.String(), nullable=True),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_trail_at", "audit_trail", ["at"])
    op.create_index("ix_audit_trail_attempt_id", "audit_trail", ["attempt_id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
