"""`mpesa-till doctor` (diagnostics, one line per finding) and `mpesa-till set-pin` (set or change the owner
PIN)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pos_app.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, WithDemo, open_service, read_pin


def add_doctor_parser(commands: Any, with_demo: WithDemo) -> None:
    with_demo(commands.add_parser("doctor", help="check the configuration and connections"))


def add_set_pin_parser(commands: Any, with_demo: WithDemo) -> None:
    with_demo(commands.add_parser("set-pin", help="set or change the owner PIN"))


async def doctor(args: argparse.Namespace) -> int:
    service = await open_service(args)
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


async def set_pin(args: argparse.Namespace) -> int:
    from pos_app.engine.errors import WrongPin

    service = await open_service(args)
    try:
        has_pin = await service.has_owner_pin()
        hint = "from a script, set MPESA_TILL_NEW_PIN (and MPESA_TILL_PIN to change a PIN already set)"
        old = None
        if has_pin:
            old = os.environ.get("MPESA_TILL_PIN") or read_pin("Current owner PIN: ", hint)
        new = os.environ.get("MPESA_TILL_NEW_PIN") or read_pin("New owner PIN (4-8 digits): ", hint)
        if not os.environ.get("MPESA_TILL_NEW_PIN") and read_pin("Repeat the new PIN: ", hint) != new:
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
