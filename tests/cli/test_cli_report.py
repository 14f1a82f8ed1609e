"""`mpesa-till report` and `history` for the owner: a CSV that opens cleanly in a spreadsheet (one table,
Nairobi time, words), a JSON report for scripts, and any day by --date."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.cli.conftest import run_cli
from tests.cli.test_cli import remote_env
from tests.engine.conftest import Rig

NAIROBI = ZoneInfo("Africa/Nairobi")
CODES = {"paid", "failed", "unknown", "insufficient_funds", "stk", "stk_query", "manual", "yes", "no"}


async def pay_one_paid_and_one_failed(env: dict[str, str]) -> None:
    paid = await run_cli("pay", "--amount", "20", "--phone", "0708374149", env=env)
    assert paid.code == 0, paid.stderr
    failed = await run_cli("pay", "--amount", "15", "--phone", "0711000002", env=env)
    assert failed.code == 1, failed.stderr


async def test_the_report_csv_is_one_table_in_nairobi_time_and_words(
    clean_env: dict[str, str], rig: Rig, tmp_path: Path
) -> None:
    env = remote_env(clean_env, rig)
    await pay_one_paid_and_one_failed(env)
    history = json.loads((await run_cli("history", "--json", env=env)).last_line)

    day_csv, summary_csv = tmp_path / "day.csv", tmp_path / "summary.csv"
    report = await run_cli("report", "--csv", str(day_csv), "--summary-csv", str(summary_csv), env=env)
    assert report.code == 0, report.stderr

    text = day_csv.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and all(None not in row for row in rows)  # no second table, no ragged rows
    assert list(rows[0]) == [
        "Date",
        "Time",
        "Sale",
        "Payment",
        "Amount (KES)",
        "Phone",
        "Result",
        "Details",
        "Method",
        "Receipt",
        "Receipt verified",
        "Anomaly",
        "Demo",
    ]
    for row, attempt in zip(rows, history, strict=True):
        local = datetime.fromisoformat(attempt["created_at"]).astimezone(NAIROBI)
        assert (row["Date"], row["Time"]) == (local.date().isoformat(), local.strftime("%H:%M:%S"))
        assert row["Payment"] == attempt["attempt_id"]
    paid, failed = rows[1], rows[0]  # newest first
    assert (paid["Result"], paid["Method"], paid["Amount (KES)"]) == ("Paid", "M-Pesa prompt", "20")
    assert paid["Phone"] == "0708 *** 149" and len(paid["Receipt"]) == 10
    assert failed["Result"] == "Not enough money"
    assert failed["Details"] == "The customer does not have enough money on M-Pesa."
    assert not CODES & {cell for row in rows for cell in row.values()}
    assert "708374149" not in text and "711000002" not in text

    summary = list(csv.reader(io.StringIO(summary_csv.read_text(encoding="utf-8-sig"))))
    assert summary[0] == ["Total", "Item", "Payments", "Amount (KES)"]
    assert ["Result", "Paid", "1", "20"] in summary and ["Result", "Not enough money", "1", "15"] in summary
    assert ["Method", "M-Pesa prompt", "1", "20"] in summary and ["Paid total", "", "1", "20"] in summary


async def test_report_json_has_stable_keys_and_whole_shillings_and_date_picks_the_day(
    clean_env: dict[str, str], rig: Rig
) -> None:
    env = remote_env(clean_env, rig)
    await pay_one_paid_and_one_failed(env)

    result = await run_cli("report", "--json", env=env)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)  # nothing else on stdout
    assert set(report) == {
        "day",
        "timezone",
        "demo",
        "paid_total_kes",
        "by_outcome",
        "by_method",
        "attempts",
        "unknowns",
        "manual_entries",
        "anomalies",
        "by_tender",
        "cash_expected_kes",
        "unclaimed_c2b",
    }
    assert report["timezone"] == "Africa/Nairobi" and report["demo"] is False
    assert report["paid_total_kes"] == 20
    assert report["by_outcome"]["paid"] == {"count": 1, "amount_kes": 20}
    assert report["by_outcome"]["insufficient_funds"] == {"count": 1, "amount_kes": 15}
    assert report["by_outcome"]["cancelled"] == {"count": 0, "amount_kes": 0}  # every outcome, always
    assert report["by_method"] == {
        "stk": {"count": 1, "amount_kes": 20},
        "stk_query": {"count": 0, "amount_kes": 0},
        "qr": {"count": 0, "amount_kes": 0},
        "manual": {"count": 0, "amount_kes": 0},
        "c2b": {"count": 0, "amount_kes": 0},
        "cash": {"count": 0, "amount_kes": 0},
    }
    assert [row["amount_kes"] for row in report["attempts"]] == [15, 20]
    assert {row["phone"] for row in report["attempts"]} == {"0708 *** 149", "0711 *** 002"}
    shown = result.stdout  # Daraja's CheckoutRequestID ends with digits of the number (docs/daraja.md §7)
    for row in report["attempts"]:
        shown = shown.replace(row["checkout_request_id"], "")
    assert "708374149" not in shown
    newest = report["attempts"][0]
    local = datetime.fromisoformat(newest["created_at"]).astimezone(NAIROBI)
    assert newest["created_at_local"] == local.isoformat(timespec="seconds")
    assert local.date().isoformat() == report["day"]

    that_day = json.loads((await run_cli("history", "--date", report["day"], "--json", env=env)).last_line)
    assert [row["amount_kes"] for row in that_day] == [15, 20]
    other_day = json.loads((await run_cli("report", "--date", "2020-01-01", "--json", env=env)).stdout)
    assert other_day["day"] == "2020-01-01" and other_day["attempts"] == []
    assert other_day["paid_total_kes"] == 0

    bad = await run_cli("history", "--date", "21/11/2026", env=env)
    assert bad.code == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


async def test_the_report_shows_cash_takings_by_tender_the_cash_up_and_unclaimed_payments_to_the_till(
    clean_env: dict[str, str], rig: Rig, tmp_path: Path
) -> None:
    from datetime import UTC

    from pos_app.store.models import C2bPaymentRow

    env = remote_env(clean_env, rig)
    await pay_one_paid_and_one_failed(env)  # KES 20 paid by M-Pesa, KES 15 failed
    till = await rig.open(home=Path(env["MPESA_TILL_HOME"]))
    cash = await till.take_cash(75)
    now = datetime.now(UTC)
    await till.store.put_c2b_payments(
        [
            C2bPaymentRow(
                trans_id="UAB1CD2EF3",
                amount_kes=500,
                first_name="JOHN",
                phone="2547*****126",
                paid_at=now,
                received_at=now,
                updated_at=now,
            )
        ]
    )
    await till.close()

    report = json.loads((await run_cli("report", "--json", env=env)).stdout)
    assert report["by_tender"] == {
        "mpesa": {"count": 1, "amount_kes": 20},
        "qr": {"count": 0, "amount_kes": 0},
        "c2b": {"count": 0, "amount_kes": 0},
        "manual": {"count": 0, "amount_kes": 0},
        "cash": {"count": 1, "amount_kes": 75},
    }
    assert report["cash_expected_kes"] == 75 and report["paid_total_kes"] == 95
    [unclaimed] = report["unclaimed_c2b"]
    assert unclaimed["trans_id"] == "UAB1CD2EF3" and unclaimed["amount_kes"] == 500
    assert unclaimed["phone"] == "07** *** 126"
    assert unclaimed["paid_at_local"] == now.astimezone(NAIROBI).isoformat(timespec="seconds")
    [cash_row] = [row for row in report["attempts"] if row["method"] == "cash"]
    assert (cash_row["status"], cash_row["amount_kes"], cash_row["phone"]) == ("paid", 75, "")

    printed = await run_cli("report", env=env)
    assert printed.code == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert "Cash expected in the drawer: KES 75 (1 cash sale(s))" in lines
    assert any(line.split() == ["Cash", "1", "KES", "75"] for line in lines)
    assert any(line.split()[:3] == ["M-Pesa", "prompt", "1"] for line in lines)
    assert any("UAB1CD2EF3" in line and "KES 500" in line and "JOHN" in line for line in lines)

    day_csv, summary_csv = tmp_path / "day.csv", tmp_path / "summary.csv"
    written = await run_cli("report", "--csv", str(day_csv), "--summary-csv", str(summary_csv), env=env)
    assert written.code == 0, written.stderr
    [cash_csv] = [
        r
        for r in csv.DictReader(io.StringIO(day_csv.read_text(encoding="utf-8-sig")))
        if r["Method"] == "Cash"
    ]
    local = cash.created_at.astimezone(NAIROBI)
    assert (cash_csv["Date"], cash_csv["Time"]) == (local.date().isoformat(), local.strftime("%H:%M:%S"))
    assert (cash_csv["Result"], cash_csv["Amount (KES)"], cash_csv["Phone"]) == ("Paid", "75", "")
    summary = list(csv.reader(io.StringIO(summary_csv.read_text(encoding="utf-8-sig"))))
    assert ["Tender", "Cash", "1", "75"] in summary and ["Tender", "M-Pesa prompt", "1", "20"] in summary
    assert ["Cash expected in the drawer", "", "1", "75"] in summary
    assert ["Paid to till, not taken by a sale", "", "1", "500"] in summary
