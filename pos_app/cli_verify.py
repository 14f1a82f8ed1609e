"""`mpesa-till verify CODE`: is the receipt code of a customer's M-Pesa SMS a payment this shop received, and
is it still free (engine/message_check.py)?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pos_app.cli_common import (
    EXIT_CANNOT_CHECK,
    EXIT_NOT_RECEIVED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_USED,
    WithDemo,
    open_service,
)

VERIFY_EXIT_CODES = f"""\
exit codes (and the "status" of --json):
  {EXIT_OK:>3}  genuine_free  this shop received the payment and no sale has taken it
  {EXIT_USED:>3}  genuine_used  received, but sale "sale_id" already took it: do not accept it again
  {EXIT_NOT_RECEIVED:>3}  not_received  this shop has no such M-Pesa payment: do not hand over the goods
  {EXIT_USAGE:>3}  invalid       not a receipt code (10 letters and digits), or a configuration error
  {EXIT_CANNOT_CHECK:>3}  cannot_check  the relay could not be asked ("reason"): try again, never treat
                      this as paid
"""


def add_parser(commands: Any, with_demo: WithDemo) -> None:
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


async def run(args: argparse.Namespace) -> int:
    from daraja_core.contract import wire_time
    from pos_app.engine.errors import ReceiptRefused
    from pos_app.engine.message_check import Verdict
    from pos_app.ui.message_check_words import sentence
    from pos_app.ui.strings import engine_text

    service = await open_service(args)
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
