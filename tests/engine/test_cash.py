"""Cash is a tender like M-Pesa (issue 9, defect 3): taking cash for a sale is stored as a paid attempt
with method `cash`, audited `cash_taken`, counted once however often it is asked, refused on a paid sale
and while a prompt is still on the customer's phone; the day report shows takings by tender and the cash
expected in the drawer; an unknown M-Pesa payment that turns out paid after the sale was settled in cash
is flagged `paid_after_cash` for the owner. Real SQLite; the M-Pesa cases through the real simulator and
relay (tests/engine/conftest.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pos_app.engine.cash import Cash, CashRefused
from pos_app.engine.errors import ChargeRefused
from pos_app.engine.ledger import Ledger
from pos_app.engine.states import DeadlinePassed, Method, ResultReported
from pos_app.engine.views import AlertCode, AttemptView
from pos_app.store.db import Store
from pos_app.store.models import C2bPaymentRow
from tests.engine.conftest import FAST, Rig, RigFactory, eventually, settle
from tests.engine.test_ledger import AT, new_attempt


@pytest.fixture
async def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = await Store.open(tmp_path / "till.sqlite3")
    yield Ledger(store, lambda: AT)
    await store.close()


async def test_cash_before_any_charge_is_a_paid_sale_stored_audited_and_announced(ledger: Ledger) -> None:
    heard: list[AttemptView] = []
    ledger.subscribe(heard.append)
    view = await Cash(ledger=ledger, now=lambda: AT).take(75, description="bread")
    assert (view.state, view.method, view.amount_kes, view.phone, view.receipt) == (
        "paid",
        "cash",
        75,
        "",
        None,
    )
    assert view.counts_as_paid and view.message_en == "Paid in cash." and view.message_sw
    assert heard == [view]
    row = await ledger.store.get_attempt(view.attempt_id)
    assert row is not None and row.state == "paid" and row.method == "cash" and row.settled_at == AT
    sale = await ledger.store.get_sale(view.sale_id)
    assert sale is not None and sale.description == "bread"
    [entry] = await ledger.store.audit_for(view.attempt_id)
    assert (entry.action, entry.actor, entry.to_state) == ("cash_taken", "cashier", "paid")
    assert '"amount_kes": 75' in entry.detail


async def test_taking_cash_twice_for_a_sale_counts_once_even_at_the_same_moment(ledger: Ledger) -> None:
    cash = Cash(ledger=ledger, now=lambda: AT)
    first, second = await asyncio.gather(cash.take(75, sale_id="S9"), cash.take(75, sale_id="S9"))
    assert first.attempt_id == second.attempt_id
    again = await cash.take(75, sale_id="S9")
    assert again.attempt_id == first.attempt_id
    with pytest.raises(CashRefused, match=r"Sale S9 is already paid in cash \(KES 75\)\."):
        await cash.take(80, sale_id="S9")
    assert [a.method for a in await ledger.store.attempts_for_sale("S9")] == ["cash"]
    assert len(await ledger.store.audit_for(first.attempt_id)) == 1


def test_the_store_itself_refuses_a_second_cash_payment_for_a_sale(tmp_path: Path) -> None:
    from pos_app.store import migrate

    path = tmp_path / "till.sqlite3"
    migrate.upgrade(path)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO sales (id, created_at, description, demo) VALUES ('S1', '2026-11-21', '', 0)")
    insert = (
        "INSERT INTO payment_attempts "
        "(id, sale_id, amount_kes, phone, state, method, created_at, updated_at) "
        "VALUES (?, 'S1', 75, '', 'paid', 'cash', '2026-11-21', '2026-11-21')"
    )
    db.execute(insert, ("A1",))
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(insert, ("A2",))


async def test_cash_is_refused_with_a_reason_for_an_amount_below_one_shilling(ledger: Ledger) -> None:
    for amount in (0, -5):
        with pytest.raises(CashRefused, match="whole shillings"):
            await Cash(ledger=ledger, now=lambda: AT).take(amount)


async def test_a_late_m_pesa_payment_after_cash_is_paid_and_flagged_paid_after_cash(ledger: Ledger) -> None:
    await new_attempt(ledger)  # A1 of sale S1, prompt sent
    with pytest.raises(CashRefused, match="still waiting on the customer's phone"):
        await Cash(ledger=ledger, now=lambda: AT).take(10, sale_id="S1")
    await ledger.apply("A1", DeadlinePassed(at=AT), actor="system")  # unknown: cash may be taken now
    cash = await Cash(ledger=ledger, now=lambda: AT).take(10, sale_id="S1")
    late = await ledger.apply(
        "A1",
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV"),
        actor="relay",
    )
    assert late.state == "paid" and late.anomaly == "paid_after_cash"
    row = await ledger.store.get_attempt("A1")
    assert row is not None and cash.attempt_id in row.anomaly_detail and "cash" in row.anomaly_detail
    assert await ledger.store.anomaly_count("paid_after_cash", since=AT - timedelta(days=1)) == 1


# ---- through the whole till: simulator, relay, TillService -------------------------------------------


async def test_cash_after_a_failed_prompt_pays_the_sale_and_a_second_charge_is_refused(rig: Rig) -> None:
    till = await rig.open()
    failed = await settle(till, (await till.charge(75, "0711000002")).attempt_id)  # not enough money
    assert failed.state == "failed"
    cash = await till.take_cash(75, sale_id=failed.sale_id)
    assert cash.sale_id == failed.sale_id and cash.state == "paid" and cash.method == "cash"
    with pytest.raises(ChargeRefused, match="already paid"):
        await till.charge(75, "0708374149", sale_id=failed.sale_id)
    history = await till.history()
    assert {(v.attempt_id, v.state, v.method) for v in history} == {
        (failed.attempt_id, "failed", "stk"),
        (cash.attempt_id, "paid", "cash"),
    }
    report = await till.day_report()
    assert report.by_tender == {
        "mpesa": (0, 0),
        "qr": (0, 0),
        "c2b": (0, 0),
        "manual": (0, 0),
        "cash": (1, 75),
    }
    assert report.cash_expected_kes == 75 and report.paid_total_kes == 75
    assert [entry["action"] for entry in await till.audit_trail(cash.attempt_id)] == ["cash_taken"]


async def test_cash_is_refused_on_a_sale_m_pesa_paid_and_while_its_prompt_waits(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(callback_delay_s=2.0)
    till = await rig.open()
    view = await till.charge(40, "0708374149", sale_id="SALE1")
    with pytest.raises(CashRefused, match="still waiting"):
        await till.take_cash(40, sale_id="SALE1")
    paid = await settle(till, view.attempt_id)
    assert paid.state == "paid"
    with pytest.raises(CashRefused, match=r"Sale SALE1 is already paid by M-Pesa\."):
        await till.take_cash(40, sale_id="SALE1")
    [only] = await till.store.attempts_for_sale("SALE1")  # by the callback or by STK Query, never cash
    assert only.method in ("stk", "stk_query")


async def test_unknown_then_paid_after_cash_is_flagged_for_the_owner_in_alerts_diagnostics_and_report(
    rig: Rig,
) -> None:
    # The relay is down for the till and nothing queries before the deadline: the payment ends unknown.
    # The cashier takes cash; then the relay comes back with the customer's M-Pesa payment after all.
    gate = await rig.gate_relay()
    await gate.close()
    timings = replace(FAST, relay_silence_s=60.0, wait_deadline_s=1.5, reconcile_query_first_s=600.0)
    till = await rig.open(timings=timings, callback_url=rig.callback_url)
    unknown = await settle(till, (await till.charge(130, "0708374149")).attempt_id)
    assert unknown.state == "unknown"
    cash = await till.take_cash(130, sale_id=unknown.sale_id)
    assert cash.state == "paid"
    assert (await till.day_report()).unknowns == []  # the sale is paid: nothing left to find out
    await gate.open()
    late = await till.ledger.wait_for(unknown.attempt_id, lambda v: v.state == "paid", 10.0)
    assert late.anomaly == "paid_after_cash" and late.receipt
    await eventually(lambda: _has_alert(till, AlertCode.PAID_AFTER_CASH), timeout_s=10)
    [alert] = [a for a in till.status().alerts if a.code == AlertCode.PAID_AFTER_CASH]
    assert alert.message == "1 sale(s) paid in cash were paid by M-Pesa too: refund one of the two."
    assert not any(a.code == AlertCode.ANOMALIES_TO_REVIEW for a in till.status().alerts)
    findings = {f.code: f for f in await till.diagnostics()}
    assert findings["paid_after_cash"].severity == "warning"
    report = await till.day_report()
    assert [v.attempt_id for v in report.anomalies] == [unknown.attempt_id]
    assert report.by_tender["cash"] == (1, 130) and report.by_tender["mpesa"] == (1, 130)


async def _has_alert(till, code: AlertCode) -> bool:  # type: ignore[no-untyped-def]
    return any(a.code == code for a in till.status().alerts)


async def test_the_day_report_lists_the_days_payments_to_the_till_no_sale_took(rig: Rig) -> None:
    till = await rig.open()
    now = datetime.now(UTC)

    def row(trans_id: str, paid_at: datetime, claimed_by: str | None) -> C2bPaymentRow:
        return C2bPaymentRow(
            trans_id=trans_id,
            amount_kes=500,
            first_name="JOHN",
            phone="2547*****126",
            paid_at=paid_at,
            received_at=paid_at,
            claimed_by=claimed_by,
            updated_at=paid_at,
        )

    await till.store.put_c2b_payments(
        [
            row("TODAYFREE1", now, None),
            row("TODAYTAKEN", now, "S1"),
            row("OLDFREE001", now - timedelta(days=2), None),
        ]
    )
    report = await till.day_report()
    assert [p.trans_id for p in report.unclaimed_c2b] == ["TODAYFREE1"]
    assert report.unclaimed_c2b[0].amount_kes == 500
    last = list(csv.reader(io.StringIO(report.summary_csv())))[-1]
    assert last == ["Paid to till, not taken by a sale", "", "1", "500"]
