"""The one text form of a moment in SQLite, for the till's store and the relay alike.

SQLite has no time zone type, so both programs store UTC as text: `YYYY-MM-DD HH:MM:SS.ffffff`. This is
SQLAlchemy's own SQLite `DateTime` format, so SQLAlchemy Core reads the relay's columns back as
datetimes, and because every value has the same width in one zone, text order is time order (range
queries and ORDER BY work on the text). Both programs write through `encode` on their fast paths (raw
driver SQL, no per-row type processing); `decode` also reads the till's earlier form
(`…THH:MM:SS.ffffff+00:00`), which a store migration rewrites to this one.
"""

from __future__ import annotations

from datetime import UTC, datetime


def encode(moment: datetime) -> str:
    """Aware datetime → UTC text; a naive datetime is refused (its zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError("timezone-aware datetimes only: a naive time has no zone to store")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def decode(text: str) -> datetime:
    """UTC text (this form or an ISO-8601 one with an offset) → aware UTC datetime."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
