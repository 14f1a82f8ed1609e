"""The till's store on real SQLite files: migrations (an upgrade never loses data), the append-only
audit trail, optimistic updates, and the models matching the head revision."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from daraja_core import utc_text
from pos_app.store import migrate
from pos_app.store.db import Store
from pos_app.store.models import AuditEntry, C2bPaymentRow, OpenQrRow, PaymentAttempt, Sale

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _fill_first_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO sales (id, created_at, description, demo) VALUES ('S1', ?, 'bread', 0)",
            (AT.isoformat(),),
        )
        for attempt_id, receipt, created in (
            ("A1", "NLJ7RT61SV", AT),
            ("A2", None, AT + timedelta(minutes=1)),
            ("A3", "NLJ7RT61SV", AT + timedelta(minutes=2)),  # the same receipt twice: 0001 allowed it
        ):
            db.execute(
                "INSERT INTO payment_attempts (id, sale_id, amount_kes, phone, state, receipt, "
                "checkout_request_id, created_at, updated_at) "
                "VALUES (?, 'S1', 10, '254708374149', ?, ?, ?, ?, ?)",
                (
                    attempt_id,
                    "paid" if receipt else "unknown",
                    receipt,
                    f"ws_CO_{attempt_id}",
                    created.isoformat(),
                    created.isoformat(),
                ),
            )
        db.execute(
            "INSERT INTO audit_trail (at, actor, action, attempt_id, detail) "
            "VALUES (?, 'system', 'created', 'A1', '{}')",
            (AT.isoformat(),),
        )
        db.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ('MPESA_SHORTCODE', '174379', ?)",
            (AT.isoformat(),),
        )


async def test_upgrade_from_the_first_schema_keeps_every_row_and_moves_a_duplicate_receipt_to_an_anomaly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path, "0001")
    _fill_first_schema(path)
    store = await Store.open(path)  # migrates to head on open
    try:
        assert migrate.current_revision(path) == migrate.HEAD
        first = await store.get_attempt("A1")
        assert first is not None and first.receipt == "NLJ7RT61SV" and first.created_at == AT
        assert first.manual_verified is None and first.manual_reason == ""
        duplicate = await store.get_attempt("A3")
        assert duplicate is not None and duplicate.receipt is None
        assert duplicate.anomaly == "duplicate_receipt"
        assert "NLJ7RT61SV" in duplicate.anomaly_detail and "A1" in duplicate.anomaly_detail
        assert [a.id for a in await store.attempts_for_sale("S1")] == ["A1", "A2", "A3"]
        assert len(await store.audit_for("A1")) == 1
        assert (await store.settings())["MPESA_SHORTCODE"] == "174379"
    finally:
        await store.close()


def test_head_names_the_newest_revision_file() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.SCRIPT_LOCATION))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD


def test_the_till_keeps_its_own_version_table_apart_from_the_relays(tmp_path: Path) -> None:
    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path)
    tables = {
        row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert "till_alembic_version" in tables
    assert "alembic_version" not in tables


def test_the_models_match_the_head_schema(tmp_path: Path) -> None:
    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path)
    inspector = sa.inspect(sa.create_engine(f"sqlite:///{path}"))
    for model in (Sale, PaymentAttempt, AuditEntry, C2bPaymentRow, OpenQrRow):
        table = model.__table__  # type: ignore[attr-defined]
        in_db = {column["name"] for column in inspector.get_columns(table.name)}
        assert {column.name for column in table.columns} == in_db, table.name
    indexes = {index["name"]: index for index in inspector.get_indexes("payment_attempts")}
    assert indexes["ix_payment_attempts_receipt"]["unique"]
    assert indexes["ix_payment_attempts_cash_sale"]["unique"]  # revision 0005: one cash payment a sale


async def test_an_update_written_against_an_old_version_is_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "till.sqlite3")
    try:
        sale = Sale(id="S1", created_at=AT)
        attempt = PaymentAttempt(
            id="A1",
            sale_id="S1",
            amount_kes=10,
            phone="254708374149",
            state="created",
            created_at=AT,
            updated_at=AT,
        )
        await store.insert_attempt(
            attempt, AuditEntry(at=AT, actor="cashier", action="created", attempt_id="A1"), sale=sale
        )
        assert await store.update_attempt("A1", 1, {"state": "unknown"}, None) is not None
        assert (
            await store.update_attempt("A1", 1, {"state": "failed"}, None) is None
        )  # someone wrote version 2
        row = await store.get_attempt("A1")
        assert row is not None and row.state == "unknown" and row.version == 2
    finally:
        await store.close()


async def test_stored_datetimes_come_back_aware_in_utc_and_naive_ones_are_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "till.sqlite3")
    try:
        nairobi = AT.astimezone(__import__("zoneinfo").ZoneInfo("Africa/Nairobi"))
        await store.insert_attempt(
            PaymentAttempt(
                id="A1",
                sale_id="S1",
                amount_kes=10,
                phone="254708374149",
                state="created",
                created_at=nairobi,
                updated_at=AT,
            ),
            AuditEntry(at=AT, actor="cashier", action="created"),
            sale=Sale(id="S1", created_at=AT),
        )
        row = await store.get_attempt("A1")
        assert row is not None and row.created_at == AT and row.created_at.tzinfo is not None
        with pytest.raises(Exception, match="timezone-aware"):
            await store.insert_attempt(
                PaymentAttempt(
                    id="A2",
                    sale_id="S1",
                    amount_kes=10,
                    phone="254708374149",
                    state="created",
                    created_at=datetime(2026, 1, 1),  # noqa: DTZ001 (naive on purpose: must be refused)
                    updated_at=AT,
                ),
                AuditEntry(at=AT, actor="cashier", action="created"),
            )
    finally:
        await store.close()


async def test_upgrade_rewrites_old_timestamps_into_the_shared_text_form_keeping_instants_and_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path, "0002")
    old = [AT + timedelta(hours=hours, microseconds=micro) for hours, micro in ((0, 0), (5, 123456), (30, 7))]
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO sales (id, created_at, description, demo) VALUES ('S1', ?, '', 0)",
            (old[0].isoformat(timespec="microseconds"),),
        )
        for index, moment in enumerate(old):
            db.execute(
                "INSERT INTO payment_attempts (id, sale_id, amount_kes, phone, state, created_at, "
                "updated_at, settled_at) VALUES (?, 'S1', 10, '254708374149', 'paid', ?, ?, ?)",
                (f"A{index}", *(moment.isoformat(timespec="microseconds"),) * 3),
            )
    store = await Store.open(path)
    try:
        with sqlite3.connect(path) as db:
            texts = [
                row[0] for row in db.execute("SELECT created_at FROM payment_attempts ORDER BY created_at")
            ]
            assert texts == [utc_text.encode(moment) for moment in old]
            assert db.execute("SELECT created_at FROM sales").fetchone()[0] == utc_text.encode(old[0])
        for index, moment in enumerate(old):
            row = await store.get_attempt(f"A{index}")
            assert row is not None and row.created_at == moment and row.settled_at == moment
        between = await store.attempts_created_between(old[1], old[2])
        assert [a.id for a in between] == ["A1"]
    finally:
        await store.close()


def test_a_fresh_process_reads_an_attempt_through_the_writer_before_any_orm_query(tmp_path: Path) -> None:
    # In-suite, an earlier test has configured SQLAlchemy's mappers; only a new interpreter shows the bug.
    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path, "head")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO sales (id, created_at) VALUES ('S1', ?)", (utc_text.encode(AT),))
        db.execute(
            "INSERT INTO payment_attempts (id, sale_id, amount_kes, phone, state, created_at, updated_at) "
            "VALUES ('A1', 'S1', 10, '254708374149', 'created', ?, ?)",
            (utc_text.encode(AT), utc_text.encode(AT)),
        )
    program = f"""
import asyncio
from pathlib import Path
from pos_app.store.db import Store

async def main() -> None:
    store = await Store.open(Path({str(path)!r}))
    row = await store.get_attempt("A1")
    print(row.amount_kes, row.created_at.isoformat())
    await store.close()

asyncio.run(main())
"""
    answer = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["10", "2026-11-21T09:00:00+00:00"]
