"""`mpesa-till`: the desktop till, with subcommands for headless use on the same engine and store.

mpesa-till [--demo]                                   the window
mpesa-till pay --amount A --phone P [--demo] [--json] take one payment (exit 0 only when paid; see pay --help)
mpesa-till history [--date D] [--json]                the day's attempts, newest first
mpesa-till report [--date D] [--csv FILE] [--json]    totals by outcome and method; CSV for a spreadsheet
mpesa-till doctor                                     diagnostics, one line per finding
mpesa-till receipt ORDER_OR_ATTEMPT RECEIPT           manual receipt (owner PIN; MPESA_TILL_PIN for scripts)
mpesa-till set-pin                                    set or change the owner PIN
mpesa-till c2b list|claim|register|pull|release      payments to the shop's till number (c2b --help)
mpesa-till verify CODE [--json]                       check the receipt code of a customer's M-Pesa SMS
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any

from pos_app import __version__, cli_c2b

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_REFUSED = 4
EXIT_USED = 5
EXIT_NOT_RECEIVED = 6
EXIT_CANNOT_CHECK = 7
EXIT_INTERRUPTED = 130

PAY_EXIT_CODES = f"""\
exit codes (and the "status" of --json):
  {EXIT_OK:>3}  paid     the money is in; the receipt is on the last line
  {EXIT_FAILED:>3}  failed   not paid: M-Pesa answered no; "next_step" says what is safe now
  {EXIT_USAGE:>3}  invalid  wrong amount, phone or option (or configuration); nothing was sent
  {EXIT_UNKNOWN:>3}  unknown  no clear answer (or "pending": still waiting when --timeout ran out):
                check the customer's SMS or `mpesa-till history` before charging again
  {EXIT_REFUSED:>3}  refused  not charged: the sale is paid, has a payment waiting, or its last
                payment is unknown (--customer-confirms-no-sms clears that); nothing was sent
  {EXIT_INTERRUPTED:>3}  stopped  Ctrl+C: an unfinished payment resumes when the till next starts
"""


VERIFY_EXIT_CODES = f"""\
exit codes (and the "status" of --json):
  {EXIT_OK:>3}  genuine_free  this shop received the payment and no sale has taken it
  {EXIT_USED:>3}  genuine_used  received, but sale "sale_id" already took it: do not accept it again
  {EXIT_NOT_RECEIVED:>3}  not_received  this shop has no such M-Pesa payment: do not hand over the goods
  {EXIT_USAGE:>3}  invalid       not a receipt code (10 letters and digits), or a configuration error
  {EXIT_CANNOT_CHECK:>3}  cannot_check  the relay could not be asked ("reason"): try again, never treat
                      this as paid
"""


class CliError(Exception):
    """Stops a command with one line for the person at the terminal (stderr) and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-21"
        ) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpesa-till",
        description="M-Pesa Till: a point-of-sale till taking M-Pesa by STK Push.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--version", action="version", version=f"mpesa-till {__version__}")
    parser.add_argument("--demo", action="store_true", help="run on the Daraja simulator, no real money")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does (stderr)")
    commands = parser.add_subparsers(dest="command")

    def with_demo(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="demo mode")
        sub.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log to stderr"
        )
        return sub

    pay = with_demo(
        commands.add_parser(
            "pay",
            help="take one payment",
            epilog=PAY_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    pay.add_argument("--amount", required=True, type=int, help="whole shillings")
    pay.add_argument("--phone", required=True, help="customer's phone, e.g. 0708374149")
    pay.add_argument("--description", default="", help="shown on the sale")
    pay.add_argument("--sale", default=None, help="sale (order) id, to charge an existing sale again")
    pay.add_argument(
        "--customer-confirms-no-sms",
        action="store_true",
        help="the last attempt was unknown and the customer confirms no M-Pesa SMS arrived",
    )
    pay.add_argument("--json", action="store_true", help="last line: the result as JSON")
    pay.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")

    history = with_demo(commands.add_parser("history", help="the day's payment attempts"))
    history.add_argument("--date", type=_day, default=None, help="YYYY-MM-DD (Nairobi), today if not given")
    history.add_argument("--json", action="store_true")

    report = with_demo(commands.add_parser("report", help="the day report"))
    report.add_argument("--date", type=_day, default=None, help="YYYY-MM-DD (Nairobi), today if not given")
    report.add_argument(
        "--csv", type=Path, default=None, help="also write the day's payments to FILE, one row each"
    )
    report.add_argument(
        "--summary-csv", type=Path, default=None, metavar="FILE", help="also write the totals to FILE"
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON instead")

    with_demo(commands.add_parser("doctor", help="check the configuration and connections"))

    receipt = with_demo(commands.add_parser("receipt", help="enter an M-Pesa receipt by hand (owner)"))
    receipt.add_argument("attempt", metavar="ORDER_OR_ATTEMPT")
    receipt.add_argument("receipt", metavar="RECEIPT")
    receipt.add_argument("--json", action="store_true")

    with_demo(commands.add_parser("set-pin", help="set or change the owner PIN"))

    cli_c2b.add_parser(commands, with_demo)
    verify = with_demo(
        commands.add_parser(
            "verify",
            help="check the receipt code of a customer's M-Pesa SMS",
            epilog=VERIFY_EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    verify.add_argument("code", metavar="CODE", help="the receipt code from the SMS, e.g. TK3MX6CLYC")
    verify.add_argument("--json", action="store_true", help="last line: the answer as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        return _run_window(args)
    handlers: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "pay": _pay,
        "history": _history,
        "report": _report,
        "doctor": _doctor,
        "receipt": _receipt,
        "set-pin": _set_pin,
        "c2b": cli_c2b.run,
        "verify": _verify,
    }
    if not getattr(args, "verbose", False):
        # The embedded relay, the simulator and httpx log each request at INFO: keep the terminal for results.
        for name in ("relay", "daraja_core", "httpx", "alembic", "uvicorn", "pos_app"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return asyncio.run(handlers[args.command](args))
    except CliError as error:
        print(error.message, file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("Stopped. An unfinished payment resumes the next time the till starts.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _no_display() -> bool:
    """On Linux, Qt aborts the process (SIGABRT) when it finds no display; tell it first, in words."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    )


def _run_window(args: argparse.Namespace) -> int:
    if _no_display():
        print(
            "No display to open the till's window on (DISPLAY and WAYLAND_DISPLAY are not set): run "
            "mpesa-till in a desktop session; for a test without a screen, QT_QPA_PLATFORM=offscreen "
            "mpesa-till or xvfb-run mpesa-till. The commands need no display: mpesa-till --help",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        from pos_app.ui.app import run_gui
    except ImportError as error:
        # PySide6 and qasync come with the `till` extra; a relay-only install (`.[relay]`) lacks them.
        print(
            f"The till's window is not available ({error}). Install the till's libraries: "
            "bash scripts/setup.sh, or pip install '.[till]' in the source folder. "
            "The commands work without them: mpesa-till --help",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return int(run_gui(args))


async def _open(args: argparse.Namespace) -> Any:
    from pos_app.config import ConfigError, load_config
    from pos_app.engine.service import TillService

    try:
        config = load_config(force_demo=bool(getattr(args, "demo", False)))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from error
    return await TillService.open(config)


def _pay_status(view: Any) -> str:
    """paid, failed, unknown, or pending (created or prompt sent, still waiting when the CLI stopped)."""
    return view.state if view.state in ("paid", "failed", "unknown") else "pending"


_PAY_EXIT = {"paid": EXIT_OK, "failed": EXIT_FAILED, "unknown": EXIT_UNKNOWN, "pending": EXIT_UNKNOWN}


def _result_json(view: Any) -> dict[str, Any]:
    return {
        "status": _pay_status(view),
        "reason": "" if view.state == "paid" else (view.reason or view.message_en),
        "receipt": view.receipt,
        "amount_kes": view.amount_kes,
        "checkout_request_id": view.checkout_request_id,
        "merchant_request_id": view.merchant_request_id,
        "attempt_id": view.attempt_id,
        "sale_id": view.sale_id,
        "method": view.method,
        "outcome": view.outcome.value if view.outcome else None,
        "result_code": view.result_code,
        "message": view.message_en,
        "next_step": view.next_step.value,
        "anomaly": view.anomaly,
        "demo": view.demo,
    }


async def _pay(args: argparse.Namespace) -> int:
    from daraja_core.phones import InvalidPhone, format_local_masked
    from pos_app.daraja import InvalidPaymentRequest
    from pos_app.engine.errors import ChargeRefused

    service = await _open(args)
    try:
        if service.config.demo:
            print("DEMO mode: Daraja simulator, no real money.", flush=True)
        last_shown: dict[str, str] = {}

        def show(view: Any) -> None:
            if _pay_status(view) != "pending":
                return  # the result is printed once, at the end
            line = f"[{view.state}] {view.message_en}"
            if last_shown.get(view.attempt_id) != line:
                last_shown[view.attempt_id] = line
                print(line, flush=True)

        unsubscribe = service.subscribe(show)
        try:
            try:
                view = await service.charge(
                    args.amount,
                    args.phone,
                    args.description,
                    sale_id=args.sale,
                    customer_confirms_no_sms=args.customer_confirms_no_sms,
                )
            except (InvalidPaymentRequest, InvalidPhone, ChargeRefused) as error:
                message = getattr(error, "message", None) or str(error)
                refused = isinstance(error, ChargeRefused)
                print(f"Not charged: {message}", file=sys.stderr)
                if args.json:
                    print(
                        json.dumps(
                            {
                                "status": "refused" if refused else "invalid",
                                "reason": message,
                                "receipt": None,
                                "amount_kes": args.amount,
                                "checkout_request_id": None,
                                "sale_id": args.sale,
                            }
                        )
                    )
                return EXIT_REFUSED if refused else EXIT_USAGE
            print(
                f"Attempt {view.attempt_id} (sale {view.sale_id}): KES {view.amount_kes} "
                f"to {format_local_masked(view.phone)}",
                flush=True,
            )
            final = await service.wait_settled(view.attempt_id, args.timeout)
            if final.state == "paid" and final.receipt is None:
                # Settled by STK Query: give the callback a moment to bring the receipt number.
                with contextlib.suppress(TimeoutError):
                    final = await service.ledger.wait_for(
                        view.attempt_id, lambda v: v.receipt is not None, 5.0
                    )
        except TimeoutError:
            final = await service.attempt(view.attempt_id)
        finally:
            unsubscribe()
        status = _pay_status(final)
        if status == "paid":
            print(f"PAID: receipt {final.receipt or '(by STK Query, receipt to follow)'}", flush=True)
        elif status == "pending":
            print(
                "PENDING: still waiting for the customer when --timeout ran out. Check `mpesa-till history` "
                "before charging again: the till resumes this payment when it next starts.",
                flush=True,
            )
        else:
            print(f"{status.upper()}: {final.reason or final.message_en}", flush=True)
        if args.json:
            print(json.dumps(_result_json(final)), flush=True)
        return _PAY_EXIT[status]
    finally:
        await service.close()


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


async def _history(args: argparse.Namespace) -> int:
    from daraja_core.password import NAIROBI

    service = await _open(args)
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


async def _report(args: argparse.Namespace) -> int:
    service = await _open(args)
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


async def _doctor(args: argparse.Namespace) -> int:
    service = await _open(args)
    try:
        findings = await service.diagnostics()
        status = service.status()
    finally:
        await service.close()
    print(f"Mode: {status.mode}{' (DEMO)' if status.demo else ''}")
    for alert in status.alerts:
        print(f"ALERT    {alert.message}")
    for finding in findings:
        line = f"{finding.severity.upper():<8} {finding.message}"
        if finding.fix:
            line += f"  → {finding.fix}"
        print(line)
    return EXIT_FAILED if any(f.severity == "error" for f in findings) else EXIT_OK


def _read_pin(prompt: str, script_hint: str) -> str:
    """getpass, with one line instead of a traceback when nobody can type: Ctrl+D, or no terminal at all."""
    with warnings.catch_warnings():
        # Without a terminal getpass warns, then reads stdin with echo on: that is no place for a PIN.
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(prompt)
        except getpass.GetPassWarning as error:
            raise CliError(f"No terminal to type the PIN in: {script_hint}.") from error
        except EOFError as error:
            print(file=sys.stderr)  # end the prompt's line
            raise CliError("No PIN entered; nothing changed.") from error


def _ask_pin(prompt: str) -> str:
    from_env = os.environ.get("MPESA_TILL_PIN")
    if from_env:
        return from_env
    return _read_pin(prompt, "from a script, set MPESA_TILL_PIN")


async def _receipt(args: argparse.Namespace) -> int:
    from pos_app.engine.errors import TillError

    service = await _open(args)
    try:
        try:
            result = await service.enter_manual_receipt(args.attempt, args.receipt, _ask_pin("Owner PIN: "))
        except TillError as error:
            print(f"Refused: {error.message}", file=sys.stderr)
            return EXIT_FAILED
    finally:
        await service.close()
    state = "VERIFIED" if result.verified else "NOT VERIFIED"
    print(
        f"Receipt {result.attempt.receipt} entered on sale {result.attempt.sale_id}: {state}. {result.reason}"
    )
    if args.json:
        print(
            json.dumps({"verified": result.verified, "reason": result.reason, **_result_json(result.attempt)})
        )
    return EXIT_OK


async def _verify(args: argparse.Namespace) -> int:
    from daraja_core.contract import wire_time
    from pos_app.engine.errors import ReceiptRefused
    from pos_app.engine.message_check import Verdict
    from pos_app.ui.message_check_words import sentence
    from pos_app.ui.strings import engine_text

    service = await _open(args)
    lang = service.config.language
    try:
        answer = await service.check_message(args.code)
    except ReceiptRefused as error:
        print(engine_text(error.message, lang), file=sys.stderr)
        if args.json:
            print(json.dumps({"status": "invalid", "reason": error.message}))
        return EXIT_USAGE
    finally:
        await service.close()
    print(sentence(answer, lang))
    if args.json:
        print(
            json.dumps(
                {
                    "status": answer.verdict.value,
                    "receipt": answer.receipt,
                    "amount_kes": answer.amount_kes,
                    "paid_at": wire_time(answer.paid_at),
                    "name": answer.name,
                    "sale_id": answer.sale_id,
                    "used_at": wire_time(answer.used_at),
                    "reason": answer.reason,
                }
            )
        )
    return {
        Verdict.GENUINE_FREE: EXIT_OK,
        Verdict.GENUINE_USED: EXIT_USED,
        Verdict.NOT_RECEIVED: EXIT_NOT_RECEIVED,
        Verdict.CANNOT_CHECK: EXIT_CANNOT_CHECK,
    }[answer.verdict]


async def _set_pin(args: argparse.Namespace) -> int:
    from pos_app.engine.errors import WrongPin

    service = await _open(args)
    try:
        has_pin = await service.has_owner_pin()
        hint = "from a script, set MPESA_TILL_NEW_PIN (and MPESA_TILL_PIN to change a PIN already set)"
        old = None
        if has_pin:
            old = os.environ.get("MPESA_TILL_PIN") or _read_pin("Current owner PIN: ", hint)
        new = os.environ.get("MPESA_TILL_NEW_PIN") or _read_pin("New owner PIN (4-8 digits): ", hint)
        if not os.environ.get("MPESA_TILL_NEW_PIN") and _read_pin("Repeat the new PIN: ", hint) != new:
            print("The two PINs differ; nothing changed.", file=sys.stderr)
            return EXIT_USAGE
        try:
            await service.set_owner_pin(old, new)
        except WrongPin as error:
            print(f"Refused: {error.message}", file=sys.stderr)
            return EXIT_FAILED
    finally:
        await service.close()
    print("Owner PIN saved.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
