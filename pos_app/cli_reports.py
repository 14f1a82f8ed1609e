"""`mpesa-till history` (the day's attempts) and `mpesa-till report` (the day report as text or JSON, and its
CSV files for a spreadsheet)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pos_app.cli_common import EXIT_OK, CliError, WithDemo, day, open_service


def add_history_parser(commands: Any, with_demo: WithDemo) -> None:
    history = with_demo(commands.add_parser("history", help="the day's payment attempts"))
    history.add_argument("--date", type=day, default=None, help="YYYY-MM-DD (Nairobi), today if not given")
    history.add_argument("--json", action="store_true")


def add_report_parser(commands: Any, with_demo: WithDemo) -> None:
    report = with_demo(commands.add_parser("report", help="the day report"))
    report.add_argument("--date", type=day, default=None, help="YYYY-MM-DD (Nairobi), today if not given")
    report.add_argument(
        "--csv", type=Path, default=None, help="also write the day's payments to FILE, one row each"
    )
    report.add_argument(
        "--summary-csv", type=Path, default=None, metavar="FILE", help="also write the totals to FILE"
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON instead")


def _history_row(view: Any) -> dict[str, Any]:
    from daraja_core.password import NAIROBI
    from daraja_core.phones import format_local_masked

    return {
        "attempt_id": view.attempt_id,
        "sale_id": view.sale_id,
        "created_at": view.created_at.isoformat(),
        "created_at_local": view.created_at.astimezone(NAIROBI).isoformat(timespec="seconds"),
        "amount_kes": view.amount_kes,
        "phone": format_local_masked(view.phone),
        "status": view.state,
        "outcome": view.outcome.value if view.outcome else None,
        "receipt": view.receipt,
        "method": view.method,
        "checkout_request_id": view.checkout_request_id,
        "anomaly": view.anomaly,
        "manual_verified": view.manual_verified,
        "demo": view.demo,
    }


async def history(args: argparse.Namespace) -> int:
    from daraja_core.password import NAIROBI

    service = await open_service(args)
    try:
        views = await service.history(args.date)
    finally:
        await service.close()
    if args.json:
        print(json.dumps([_history_row(v) for v in views]))
        return EXIT_OK
    if not views:
        print("No payments on that day.")
    for view in views:
        row = _history_row(view)
        local = view.created_at.astimezone(NAIROBI).strftime("%H:%M:%S")
        print(
            f"{local}  {row['attempt_id']}  KES {row['amount_kes']:>7}  {row['phone']}  {row['status']:<11} "
            f"{row['receipt'] or '':<10}  {row['method']}{'  DEMO' if view.demo else ''}"
            f"{'  ANOMALY: ' + view.anomaly if view.anomaly else ''}"
        )
    return EXIT_OK


def _write_file(path: Path, content: str) -> None:
    try:
        # With a byte-order mark, Excel reads the file as UTF-8 (the LibreOffice and Sheets do either way).
        path.write_text(content, encoding="utf-8-sig")
    except OSError as error:
        raise CliError(f"Could not write {path}: {error.strerror or error}.") from error


def _totals(found: dict[str, tuple[int, int]], keys: list[str]) -> dict[str, dict[str, int]]:
    """Every key always present (zero when nothing happened), so a script can index without checking."""
    every = {key: (0, 0) for key in keys} | found
    return {key: {"count": count, "amount_kes": total} for key, (count, total) in every.items()}


def _report_json(report: Any) -> dict[str, Any]:
    from daraja_core.password import NAIROBI
    from daraja_core.phones import format_local_masked
    from daraja_core.results import Outcome
    from pos_app.engine.views import TENDERS

    return {
        "day": report.day.isoformat(),
        "timezone": "Africa/Nairobi",
        "demo": report.demo,
        "paid_total_kes": report.paid_total_kes,
        "by_outcome": _totals(report.by_outcome, [o.value for o in Outcome] + ["pending"]),
        "by_method": _totals(report.by_method, ["stk", "stk_query", "qr", "manual", "c2b", "cash"]),
        # Takings by tender (M-Pesa prompts, paid to till, verified typed receipts, cash) and the cash-up.
        "by_tender": _totals(report.by_tender, list(TENDERS)),
        "cash_expected_kes": report.cash_expected_kes,
        "attempts": [_history_row(v) for v in report.attempts],
        "unknowns": [_history_row(v) for v in report.unknowns],
        "manual_entries": [_history_row(v) for v in report.manual_entries],
        "anomalies": [_history_row(v) for v in report.anomalies],
        "unclaimed_c2b": [
            {
                "trans_id": p.trans_id,
                "amount_kes": p.amount_kes,
                "first_name": p.first_name,
                "phone": format_local_masked(p.phone) if p.phone else "",
                "paid_at_local": p.paid_at.astimezone(NAIROBI).isoformat(timespec="seconds"),
            }
            for p in report.unclaimed_c2b
        ],
    }


async def report(args: argparse.Namespace) -> int:
    service = await open_service(args)
    try:
        report = await service.day_report(args.date)
    finally:
        await service.close()
    # Files first: when one cannot be written, the one line saying so is all the output.
    outputs = [
        (path, make)
        for path, make in ((args.csv, report.to_csv), (args.summary_csv, report.summary_csv))
        if path is not None
    ]
    for path, make in outputs:
        _write_file(path, make())
    if args.json:
        print(json.dumps(_report_json(report)))
    else:
        _print_report(report)
    for path, _make in outputs:
        print(f"CSV written to {path}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _print_report(report: Any) -> None:
    from daraja_core.password import NAIROBI
    from daraja_core.phones import format_local_masked
    from pos_app.engine.views import TENDER_WORDS, TENDERS

    print(f"Day report {report.day.isoformat()}{' (DEMO, no real money)' if report.demo else ''}")
    print(f"Paid total: KES {report.paid_total_kes:,}")
    print("By outcome:")
    for key, (count, total) in sorted(report.by_outcome.items()):
        print(f"  {key:<20} {count:>4}  KES {total:,}")
    print("Paid by method:")
    for key, (count, total) in sorted(report.by_method.items()):
        print(f"  {key:<20} {count:>4}  KES {total:,}")
    print("Takings by tender:")
    for key in TENDERS:
        count, total = report.by_tender.get(key, (0, 0))
        print(f"  {TENDER_WORDS[key]:<26} {count:>4}  KES {total:,}")
    cash_sales = report.by_tender.get("cash", (0, 0))[0]
    print(f"Cash expected in the drawer: KES {report.cash_expected_kes:,} ({cash_sales} cash sale(s))")
    if report.unknowns:
        print("Unknown (check SMS / enter receipt):")
        for view in report.unknowns:
            print(f"  {view.attempt_id}  sale {view.sale_id}  KES {view.amount_kes}")
    if report.manual_entries:
        print("Manual receipts:")
        for view in report.manual_entries:
            verified = "verified" if view.manual_verified else "NOT verified"
            print(f"  {view.attempt_id}  {view.receipt}  KES {view.amount_kes}  {verified}")
    if report.anomalies:
        print("Anomalies (check before the end of the day):")
        for view in report.anomalies:
            print(f"  {view.attempt_id}  sale {view.sale_id}  KES {view.amount_kes}  {view.anomaly}")
    if report.unclaimed_c2b:
        print("Paid to till, not taken by a sale (resolve with `mpesa-till c2b`):")
        for p in report.unclaimed_c2b:
            local = p.paid_at.astimezone(NAIROBI).strftime("%H:%M")
            phone = format_local_masked(p.phone) if p.phone else ""
            print(f"  {p.trans_id}  {local}  KES {p.amount_kes:,}  {p.first_name}  {phone}".rstrip())
