"""What the `mpesa-till` commands share: exit codes, the one-line error, opening the engine, the owner PIN
prompt, and an attempt as JSON (the last line of `pay`, `receipt` and `c2b claim`)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import warnings
from collections.abc import Callable
from datetime import date
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_REFUSED = 4
EXIT_USED = 5
EXIT_NOT_RECEIVED = 6
EXIT_CANNOT_CHECK = 7
EXIT_INTERRUPTED = 130

# Adds --demo and --verbose to a subcommand's parser (cli.build_parser), so they work after its name too.
WithDemo = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


class CliError(Exception):
    """Stops a command with one line for the person at the terminal (stderr) and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def day(text: str) -> date:
    """An argparse type: a YYYY-MM-DD date, refused in words."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-21"
        ) from error


async def open_service(args: argparse.Namespace) -> Any:
    from pos_app.config import ConfigError, load_config
    from pos_app.engine.service import TillService

    try:
        config = load_config(force_demo=bool(getattr(args, "demo", False)))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from error
    return await TillService.open(config)


def pay_status(view: Any) -> str:
    """paid, failed, unknown, or pending (created or prompt sent, still waiting when the CLI stopped)."""
    return view.state if view.state in ("paid", "failed", "unknown") else "pending"


def result_json(view: Any) -> dict[str, Any]:
    return {
        "status": pay_status(view),
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


def read_pin(prompt: str, script_hint: str) -> str:
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


def ask_pin(prompt: str) -> str:
    from_env = os.environ.get("MPESA_TILL_PIN")
    if from_env:
        return from_env
    return read_pin(prompt, "from a script, set MPESA_TILL_PIN")
