"""The tills' feeds keep their order: a till reading `after=N` never skips a row, on several instances too.

A till reads its feed as `WHERE till_id = T AND seq > N ORDER BY seq` (relay.payments.feed_page) and moves
its cursor to the last `seq` it got. `seq` comes from one sequence, drawn when a row is inserted, and
transactions commit in another order than they draw: on PostgreSQL two writers could draw 7 and 8 for till
T, 8 commit first, the till read it and move to `after=8`, and 7 then commit behind the cursor, never served.

So feed rows are appended last in their transaction (`append` only collects them; `Database.write` runs
`in_transaction`, which inserts them after the transaction's own work) under one transaction-level advisory
lock per till they are for (`pg_advisory_xact_lock(FEED_LOCK_SPACE, till_id)`), taken in till order so two
transactions never deadlock, and held until commit. For one till, appends are therefore serialised from
drawing `seq` to commit, so a row committed after a reader saw `seq` N of till T has a larger seq: per
till, seq order is commit order, and `after=N` is safe. Writes for other tills do not wait for each other,
so instances add write capacity, and each lock is held only for the insert and the commit, not for the
whole batch. (A global lock did the same by serialising every writer of every instance.) A lock is
released only after its transaction is visible to new snapshots, which is what the argument needs.

Across tills seq order is not commit order, so the long-polls' safety sweep (relay.service) follows each
till's newest seq (`newest_seqs`) rather than one global cursor, and reads what is new per till
(`changes_since`).

SQLite: the single writer holds the database's write lock from BEGIN IMMEDIATE to commit: no lock needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relay.models import feed_table, payment_table, till_table
from relay.notify import Changes
from relay.rows import Rows

T = TypeVar("T")

# The first key of the two-key advisory locks on tills' feeds (the second is the till id).
FEED_LOCK_SPACE = 0x6D70  # "mp"
# A sweep that finds more new entries than this (or more changed tills) wakes those tills' every waiter.
SWEEP_MAX_ROWS = 5000
SWEEP_MAX_TILLS = 1000

_PENDING = "relay.feed.pending"

# till_id, payment_id (a c2b_payment id for kind c2b), kind, created_at
Entry = tuple[int, int, str, datetime]


def append(connection: Connection, entries: Iterable[Entry]) -> None:
    """Add rows to tills' feeds; they are inserted when the transaction's work is done (`in_transaction`)."""
    pending: list[Entry] | None = connection.info.get(_PENDING)
    if pending is None:
        raise RuntimeError("feed entries are appended only inside Database.write (relay.feed.in_transaction)")
    pending.extend(entries)


def in_transaction(fn: Callable[[Connection], T], connection: Connection) -> T:
    """Run a write transaction's work, then insert the feed rows it appended, under their tills' locks."""
    # The dict itself, taken while the connection is sound: once a cut connection is invalidated, reading
    # `connection.info` raises PendingRollbackError, which would hide the driver's "connection lost" (the
    # writer runs such a batch again; any other error sets a callback aside as failed: relay/writer.py).
    info = connection.info
    pending: list[Entry] = []
    info[_PENDING] = pending
    try:
        result = fn(connection)
        _insert(connection, pending)
        return result
    finally:
        info.pop(_PENDING, None)


def lock_tills(connection: Connection, till_ids: Iterable[int]) -> None:
    """Take the feed locks of these tills (PostgreSQL), in till order, until the transaction ends."""
    if connection.dialect.name != "postgresql":
        return
    ordered = sorted(set(till_ids))
    if ordered:
        # The subquery's ORDER BY fixes the order the locks are taken in (a sorted subquery is not flattened).
        connection.exec_driver_sql(
            "SELECT count(pg_advisory_xact_lock($1, till)) FROM "
            "(SELECT unnest($2::int[]) AS till ORDER BY 1) AS ordered",
            (FEED_LOCK_SPACE, ordered),
        )


def _insert(connection: Connection, entries: list[Entry]) -> None:
    if not entries:
        return
    lock_tills(connection, (entry[0] for entry in entries))
    rows = Rows(connection)
    rows.many(
        "INSERT INTO feed_entry (till_id, payment_id, kind, created_at) VALUES (?, ?, ?, ?)",
        [(till, payment, kind, rows.dt_in(at)) for till, payment, kind, at in entries],
    )


def newest_seqs(connection: Connection, till_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Each till's newest feed seq (0 for none): of `till_ids`, or of every till. One index probe per till."""
    newest = (
        sa.select(sa.func.coalesce(sa.func.max(feed_table.c.seq), 0))
        .where(feed_table.c.till_id == till_table.c.id)
        .scalar_subquery()
    )
    query = sa.select(till_table.c.id, newest)
    if till_ids is not None:
        query = query.where(till_table.c.id.in_(list(till_ids)))
    return {int(till): int(seq) for till, seq in connection.execute(query)}


def changes_since(connection: Connection, seen: Mapping[int, int]) -> Changes:
    """What the feed entries of each till after its `seen` seq changed, in one read."""
    if len(seen) > SWEEP_MAX_TILLS:
        return Changes(tills=set(seen))
    is_c2b = feed_table.c.kind == "c2b"
    rows = connection.execute(
        sa.select(feed_table.c.till_id, payment_table.c.order_id)
        .select_from(
            feed_table.outerjoin(
                payment_table, sa.and_(payment_table.c.id == feed_table.c.payment_id, sa.not_(is_c2b))
            )
        )
        .where(sa.or_(*(sa.and_(feed_table.c.till_id == t, feed_table.c.seq > s) for t, s in seen.items())))
        .limit(SWEEP_MAX_ROWS + 1)
    ).all()
    if len(rows) > SWEEP_MAX_ROWS:
        return Changes(tills=set(seen))
    changes = Changes()
    for till_id, order_id in rows:
        changes.feeds.add(till_id)
        if order_id is not None:
            changes.orders.add((till_id, order_id))
    return changes
