"""C2B payments from Pull Transactions (docs/daraja.md §6) beside the relay's feed.

Revision ID: 0006
Revises: 0005

`source` says who told the till about the payment: "relay" (its feed) or "pull" (Daraja's Pull
Transactions, while the relay was unreachable or never got the confirmation). `claim_pending` marks a
claim this till made without the relay's say (a Pull-only payment): it is sent to the relay later.
One row per TransID still, so a payment both sources report is counted once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("c2b_payments") as batch:
        batch.add_column(sa.Column("source", sa.String(), nullable=False, server_default="relay"))
        batch.add_column(sa.Column("claim_pending", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    raise NotImplementedError("the till's store only moves forward; restore a backup to go back")
