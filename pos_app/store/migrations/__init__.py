"""Alembic migrations for the till's own store (version table `till_alembic_version`, distinct
from the relay's)."""
