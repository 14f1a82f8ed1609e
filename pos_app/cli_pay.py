"""`mpesa-till pay` (take one payment by STK Push and wait for its result) and `mpesa-till receipt` (the
owner enters the receipt of a customer's M-Pesa SMS by hand)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from pos_app.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    WithDemo,
    ask_pin,
    open_service,
    pay_status,
    result_json,
)

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

_PAY_EXIT = {"paid": EXIT_OK, "failed": EXIT_FAILED, "unknown": EXIT_UNKNOWN, "pending": EXIT_UNKNOWN}


def add_pay_parser(commands: Any, with_demo: WithDemo) -> None:
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


def add_receipt_parser(commands: Any, with_demo: WithDemo) -> None:
    receipt = with_demo(commands.add_parser("receipt", help="enter an M-Pesa receipt by hand (owner)"))
    receipt.add_argument("attempt", metavar="ORDER_OR_ATTEMPT")
    receipt.add_argument("receipt", metavar="RECEIPT")
    receipt.add_argument("--json", action="store_true")


async def pay(args: argparse.Namespace) -> int:
    from daraja_core.phones import InvalidPhone, format_local_masked
    from pos_app.daraja import InvalidPaymentRequest
    from pos_app.engine.errors import ChargeRefused

    service = await open_service(args)
    try:
        if service.config.demo:
            print("DEMO mode: Daraja simulator, no real money.", flush=True)
        last_shown: dict[str, str] = {}

        def show(view: Any) -> None:
            if pay_status(view) != "pending":
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
        status = pay_status(final)
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
            print(json.dumps(result_json(final)), flush=True)
        return _PAY_EXIT[status]
    finally:
        await service.close()


async def receipt(args: argparse.Namespace) -> int:
    from pos_app.engine.errors import TillError

    service = await open_service(args)
    try:
        try:
            result = await service.enter_manual_receipt(args.attempt, args.receipt, ask_pin("Owner PIN: "))
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
            json.dumps({"verified": result.verified, "reason": result.reason, **result_json(result.attempt)})
        )
    return EXIT_OK
