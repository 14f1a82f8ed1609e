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
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pos_app import __version__, cli_c2b, cli_pay, cli_reports, cli_setup, cli_verify
from pos_app.cli_common import (  # the exit codes are part of `mpesa-till`: importable from here too
    EXIT_CANNOT_CHECK,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_RECEIVED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_USED,
    CliError,
)

__all__ = [
    "EXIT_CANNOT_CHECK",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_RECEIVED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "EXIT_USED",
    "CliError",
    "build_parser",
    "main",
]


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

    # In the order `mpesa-till --help` lists them.
    cli_pay.add_pay_parser(commands, with_demo)
    cli_reports.add_history_parser(commands, with_demo)
    cli_reports.add_report_parser(commands, with_demo)
    cli_setup.add_doctor_parser(commands, with_demo)
    cli_pay.add_receipt_parser(commands, with_demo)
    cli_setup.add_set_pin_parser(commands, with_demo)
    cli_c2b.add_parser(commands, with_demo)
    cli_verify.add_parser(commands, with_demo)
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
        "pay": cli_pay.pay,
        "history": cli_reports.history,
        "report": cli_reports.report,
        "doctor": cli_setup.doctor,
        "receipt": cli_pay.receipt,
        "set-pin": cli_setup.set_pin,
        "c2b": cli_c2b.run,
        "verify": cli_verify.run,
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


if __name__ == "__main__":
    sys.exit(main())
