"""Timestamps in the one UTC text form both programs share (`daraja_core.utc_text`).

Revision ID: 0003
Revises: 0002

Earlier stores wrote `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`; the shared form is `YYYY-MM-DD HH:MM:SS.ffffff`
(UTC, the same instant). Every timestamp column is rewritten in place so that text comparisons and
ORDER BY keep meaning time order: a mix of the two forms would not sort (" " sorts before "T").
Only values in an ISO form with a "T" are touched (the old writer's); the rest are already in the new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daraja_core import utc_text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP_COLUMNS = {
    "sales": ("created_at",),
    "payment_attempts": (
        "created_at",
        "updated_at",
        "push_started_at",
        "prompt_sent_at",
        "settled_at",
        "wait_deadline_at",
        "manual_at",
    ),
    "audit_trail": ("at",),
    "settings": ("updated_at",),
}


def upgrade() -> None:
    connection = op.get_bind()
    for table, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            rows = connection.execute(
                sa.text(f"SELECT rowid, {column} FROM {table} WHERE {column} LIKE '%T%'")
            ).all()
            rewritten = [
                {"rowid": rowid, "value": utc_text.encode(utc_text.decode(value))} for rowid, value in rows
            ]
            if rewritten:
                connection.execute(
                    sa.text(f"UPDATE {table} SET {column} = :value WHERE rowid = :rowid"), rewritten
                )


def downgrade() -> None:
    raise NotImplementedError("the till's migrations go forward only: restore a backup instead")
