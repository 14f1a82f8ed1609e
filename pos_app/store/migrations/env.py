"""Alembic environment for the till's store. Run by `pos_app.store.migrate.upgrade`, which hands over an
open connection; the till's version table is named apart from the relay's so an embedded relay sharing a
folder, or a future shared file, can never confuse the two histories."""

from __future__ import annotations

from alembic import context

from pos_app.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
