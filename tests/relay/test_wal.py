"""SQLite's write-ahead log rewinds while readers keep reading (relay.db.Database.checkpoint)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from relay import db as relay_db
from relay.db import Database

ROW = "x" * 2000
READ_S = 0.02  # how long each reader holds its snapshot; under RESTART_WAIT_MS


def frames_in_log(path: Path) -> int:
    """How many frames the WAL holds (a PASSIVE checkpoint reports it and changes nothing a reader sees)."""
    connection = sqlite3.connect(path)
    try:
        _busy, log, _done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(log)
    finally:
        connection.close()


@pytest.mark.parametrize("restart_after", [100, 100_000], ids=["grown", "small"])
async def test_a_grown_wal_starts_again_from_its_beginning_although_readers_never_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restart_after: int
) -> None:
    # 200 commits: past 100 frames the log is rewound; under the threshold (1,024 in production) it is
    # left to grow, and the writer is never held for a restart on a quiet relay.
    monkeypatch.setattr(relay_db, "RESTART_AFTER_FRAMES", restart_after)
    path = tmp_path / "relay.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    stop = threading.Event()
    reads = 0
    readers: list[threading.Thread] = []

    def keep_reading(offset_s: float) -> None:
        # Long-polls' reads, each a few milliseconds, overlapping: some reader always holds a snapshot
        # inside the log, as at 2,000 long-polls held.
        nonlocal reads
        time.sleep(offset_s)
        connection = sqlite3.connect(path, isolation_level=None)
        while not stop.is_set():
            connection.execute("BEGIN")
            connection.execute("SELECT count(*) FROM t").fetchone()
            time.sleep(READ_S)
            connection.execute("ROLLBACK")
            reads += 1
        connection.close()

    try:
        await db.write(lambda c: c.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")))
        readers += [threading.Thread(target=keep_reading, args=(i * READ_S / 2,)) for i in range(2)]
        for reader in readers:
            reader.start()
        for _ in range(200):
            await db.write(lambda c: c.execute(sa.text("INSERT INTO t (body) VALUES (:b)"), {"b": ROW}))
        grown = frames_in_log(path)

        await db.checkpoint()
        await db.write(lambda c: c.execute(sa.text("INSERT INTO t (body) VALUES (:b)"), {"b": ROW}))
        after = frames_in_log(path)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        await db.dispose()

    assert reads > 0
    assert grown >= 200  # one frame or more per commit, none rewound yet
    if restart_after < grown:
        assert after < 10, f"the log still holds {after} frames after a checkpoint: it never rewound"
    else:
        assert after > grown
