"""Revisions, oldest first. An upgrade never loses data: tests/engine/test_store_migrations.py upgrades a
store filled at the first revision."""
