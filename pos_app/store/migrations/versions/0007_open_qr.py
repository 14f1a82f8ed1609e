"""Open QR codes: a paybill QR on screen survives the till's restart (pos_app/engine/qr_tender.py).

Revision ID: 0007
Revises: 0006

One row per sale: the QR's amount and reference (the account number its payment comes back with) and
when it was shown. `closed_at` is NULL while the QR is open; closing says why (`closed_why`: paid by the
QR, paid another way, given back by Esc, expired). After a crash or a power cut the till picks up the open
rows on start, so the customer's payment still settles the sale it was meant for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_qr_codes",
        sa.Column("sale_id", sa.String(16), primary_key=True),
        sa.Column("amount_kes", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False, server_default=""),
        sa.Column("shown_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32), nullable=True),
        sa.Column("closed_why", sa.String(), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
