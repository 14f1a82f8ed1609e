"""The till's own store (SQLModel + aiosqlite): sales, payment attempts, the audit trail, settings."""

from pos_app.store.db import Store
from pos_app.store.models import AuditEntry, PaymentAttempt, Sale, Setting

__all__ = ["AuditEntry", "PaymentAttempt", "Sale", "Setting", "Store"]
