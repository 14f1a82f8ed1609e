"""Cash as a tender: at most one cash payment per sale, enforced by the store itself.

Revision ID: 0005
Revises: 0004

Taking cash is stored as a paid attempt with method `cash` (pos_app/engine/cash.py). The engine refuses a
second one inside its write transaction; this partial unique index makes the same promise hold for every
process on the file (the window and a headless `mpesa-till`), so cash can never count twice for a sale.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_payment_attempts_cash_sale",
        "payment_attempts",
        ["sale_id"],
        unique=True,
        sqlite_where=sa.text("method = 'cash'"),
    )


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
