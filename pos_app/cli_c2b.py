"""`mpesa-till c2b …`: payments customers make to the shop's till or paybill number (docs/daraja.md §6).

mpesa-till c2b list [--amount A] [--json]             unclaimed payments (Pull when the relay is down)
mpesa-till c2b claim TRANS_ID --sale SALE [--json]    settle a sale paid with one of them
mpesa-till c2b register [--response-type T] [--json]  register the relay's C2B URLs with Daraja (once)
mpesa-till c2b pull [--register --nominated-number N] fetch the last 48 h of payments from Daraja
mpesa-till c2b release TRANS_ID [--json]              owner: give back a payment a sale took by mistake
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from pos_app.cli_common import WithDemo, ask_pin, open_service, result_json

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 4
EXIT_CANNOT_REACH = 7
EXIT_ALREADY_REGISTERED = 8

REGISTER_EXIT_CODES = f"""\
Production registration is one-time: Safaricom answers a second one with
500.003.1001 "Urls are already registered". To move the URLs (a new relay
address), delete them in the Daraja portal first, then register again. The
sandbox registers again freely.

exit codes (and the "status" of --json):
  {EXIT_OK:>3}  registered          Daraja accepted the URLs
  {EXIT_FAILED:>3}  refused             Daraja refused them ("reason" has its code and words)
  {EXIT_USAGE:>3}  invalid             a URL breaks Safaricom's rules, the till has no shop or
                            no public address, or a configuration error; nothing was sent
  {EXIT_CANNOT_REACH:>3}  cannot_reach        the relay or Daraja did not answer: try again
  {EXIT_ALREADY_REGISTERED:>3}  already_registered  500.003.1001: this shortcode has URLs registered
                            already (production); delete them in the portal to change them
"""

PULL_EXIT_CODES = f"""\
exit codes: {EXIT_OK} pulled · {EXIT_USAGE} refused (register the shortcode for Pull once, or a
configuration error) · {EXIT_CANNOT_REACH} Daraja did not answer
"""

RELEASE_EXIT_CODES = f"""\
exit codes: {EXIT_OK} released · {EXIT_FAILED} refused (wrong owner PIN, no such payment, or the relay
could not be asked); the owner PIN comes from MPESA_TILL_PIN in scripts
"""


def add_parser(commands: Any, with_demo: WithDemo) -> None:
    """The `c2b` command and its subcommands, on `mpesa-till`'s parser."""
    raw = argparse.RawDescriptionHelpFormatter
    c2b = commands.add_parser("c2b", help="payments made to the shop's till number (paid to till)")
    sub = c2b.add_subparsers(dest="c2b_command", required=True)
    listing = with_demo(sub.add_parser("list", help="unclaimed payments, newest first"))
    listing.add_argument("--amount", type=int, default=None, help="the sale's amount: those first")
    listing.add_argument("--json", action="store_true", help="print the payments as JSON instead")
    claim = with_demo(sub.add_parser("claim", help="settle a sale paid with a payment"))
    claim.add_argument("trans_id", metavar="TRANS_ID", help="the M-Pesa receipt of the payment")
    claim.add_argument("--sale", required=True, help="the sale (order) id it pays")
    claim.add_argument("--json", action="store_true", help="last line: the sale's payment as JSON")
    register = with_demo(
        sub.add_parser(
            "register",
            help="register the relay's C2B URLs with Daraja (one-time in production)",
            epilog=REGISTER_EXIT_CODES,
            formatter_class=raw,
        )
    )
    register.add_argument(
        "--response-type",
        choices=("Completed", "Cancelled"),
        default="Completed",
        help="what M-Pesa does when validation does not answer in ~8 s (default: Completed)",
    )
    register.add_argument(
        "--shortcode", default=None, help="the till or paybill number (default: the shop's)"
    )
    register.add_argument(
        "--confirmation-url", default=None, help="instead of the relay's (with --validation-url)"
    )
    register.add_argument("--validation-url", default=None, help="instead of the relay's")
    register.add_argument("--json", action="store_true", help="last line: the answer as JSON")
    pull = with_demo(
        sub.add_parser(
            "pull",
            help="fetch the shop's C2B payments of the last 48 h from Daraja (Pull Transactions)",
            epilog=PULL_EXIT_CODES,
            formatter_class=raw,
        )
    )
    pull.add_argument("--register", action="store_true", help="register the shortcode for Pull first (once)")
    pull.add_argument(
        "--nominated-number", default=None, help="the phone Safaricom notifies (with --register)"
    )
    pull.add_argument("--json", action="store_true", help="last line: the result as JSON")
    release = with_demo(
        sub.add_parser(
            "release",
            help="owner: give back a payment a sale claimed by mistake (owner PIN)",
            epilog=RELEASE_EXIT_CODES,
            formatter_class=raw,
        )
    )
    release.add_argument("trans_id", metavar="TRANS_ID", help="the M-Pesa receipt of the payment")
    release.add_argument("--json", action="store_true", help="last line: the result as JSON")


async def run(args: argparse.Namespace) -> int:
    service = await open_service(args)
    try:
        handler = {
            "list": _list,
            "claim": _claim,
            "register": _register,
            "pull": _pull,
            "release": _release,
        }[args.c2b_command]
        return await handler(service, args)
    finally:
        await service.close()


def _print_json(args: argparse.Namespace, value: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(value), flush=True)


async def _claim(service: Any, args: argparse.Namespace) -> int:
    from pos_app.engine.paid_to_till import C2bClaimRefused

    try:
        view = await service.claim_c2b(args.sale, args.trans_id)
    except C2bClaimRefused as error:
        print(f"Refused: {error.message}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"Sale {view.sale_id} paid: KES {view.amount_kes}, receipt {view.receipt}.")
    if args.json:
        print(json.dumps(result_json(view)))
    return EXIT_OK


async def _list(service: Any, args: argparse.Namespace) -> int:
    from pos_app.engine.relay_client import RelayError

    try:
        offers = await service.c2b_offers(args.amount, catch_up=True)
    except RelayError as error:
        print(
            f"The relay could not be read ({error}); showing what this till has, with any payments "
            "Pull Transactions reported.",
            file=sys.stderr,
        )
        offers = await service.c2b_offers(args.amount)
    now = datetime.now(UTC)
    if args.json:
        rows = [
            {
                "trans_id": o.trans_id,
                "amount_kes": o.amount_kes,
                "first_name": o.first_name,
                "phone": o.phone_display,
                "paid_at": o.paid_at.isoformat(),
                "minutes_ago": o.minutes_ago(now),
                "matches_sale": o.matches_sale,
            }
            for o in offers
        ]
        print(json.dumps(rows))
        return EXIT_OK
    if not offers:
        print("No unclaimed payments to the till number.")
    for o in offers:
        mark = "  <- the sale's amount" if o.matches_sale else ""
        print(
            f"{o.trans_id}  KES {o.amount_kes:>7,}  {o.first_name:<12} {o.phone_display:<13} "
            f"{o.minutes_ago(now)} min ago{mark}"
        )
    return EXIT_OK


async def _register(service: Any, args: argparse.Namespace) -> int:
    from pos_app.daraja import DarajaError, DarajaUnreachable, RateLimited
    from pos_app.daraja.c2b import UrlsAlreadyRegistered
    from pos_app.engine.c2b_urls import C2bSetupRefused, C2bSetupUnreachable

    environment = "the simulator, demo" if service.config.demo else service.config.environment
    status, reason, code = "registered", "", EXIT_OK
    registration = None
    try:
        registration = await service.c2b.register(
            shortcode=args.shortcode,
            response_type=args.response_type,
            confirmation_url=args.confirmation_url,
            validation_url=args.validation_url,
        )
    except C2bSetupUnreachable as error:
        status, reason, code = "cannot_reach", error.message, EXIT_CANNOT_REACH
    except C2bSetupRefused as error:
        status, reason, code = "invalid", error.message, EXIT_USAGE
    except UrlsAlreadyRegistered as error:
        status, reason, code = "already_registered", str(error), EXIT_ALREADY_REGISTERED
    except (DarajaUnreachable, RateLimited) as error:
        status, reason, code = "cannot_reach", str(error), EXIT_CANNOT_REACH
    except DarajaError as error:
        status, reason, code = "refused", str(error), EXIT_FAILED
    if registration is not None:
        urls = registration.urls
        print(f"Registered with Daraja ({environment}) for shortcode {urls.shortcode}:")
        print(f"  confirmation  {urls.confirmation_url}")
        print(f"  validation    {urls.validation_url}")
        print(f"  if validation does not answer: {registration.response_type}")
        print(
            "In production this registration is one-time: registering again is answered 500.003.1001 "
            "'Urls are already registered'. To move the URLs, delete them in the Daraja portal first."
        )
    elif status == "already_registered":
        print(
            "Not changed: Daraja says the URLs of this shortcode are already registered (500.003.1001). "
            "Production registers URLs once; if payments still reach the relay nothing needs doing "
            "(mpesa-till doctor checks). To move them, delete the URLs in the Daraja portal, then run "
            "mpesa-till c2b register again.",
            file=sys.stderr,
        )
    else:
        print(f"Not registered: {reason}", file=sys.stderr)
    _print_json(
        args,
        {
            "status": status,
            "reason": reason,
            "environment": environment,
            "shortcode": registration.urls.shortcode if registration else args.shortcode,
            "confirmation_url": registration.urls.confirmation_url if registration else None,
            "validation_url": registration.urls.validation_url if registration else None,
        },
    )
    return code


async def _pull(service: Any, args: argparse.Namespace) -> int:
    from pos_app.engine.c2b_urls import C2bSetupRefused, C2bSetupUnreachable

    try:
        if args.register:
            if not args.nominated_number:
                print("--register needs --nominated-number (the phone Safaricom notifies).", file=sys.stderr)
                return EXIT_USAGE
            new = await service.c2b.register_pull(args.nominated_number)
            print("Registered for Pull Transactions." if new else "Already registered for Pull Transactions.")
        result = await service.c2b.pull()
    except C2bSetupUnreachable as error:
        print(f"Not pulled: {error.message}", file=sys.stderr)
        _print_json(args, {"status": "cannot_reach", "reason": error.message})
        return EXIT_CANNOT_REACH
    except C2bSetupRefused as error:
        print(f"Not pulled: {error.message}", file=sys.stderr)
        _print_json(args, {"status": "refused", "reason": error.message})
        return EXIT_USAGE
    print(
        f"Pulled {result.seen} payment(s) of the last 48 h to {result.shortcode} from Daraja; "
        f"{result.new} this till did not know. `mpesa-till c2b list` shows the unclaimed ones."
    )
    _print_json(
        args, {"status": "pulled", "shortcode": result.shortcode, "seen": result.seen, "new": result.new}
    )
    return EXIT_OK


async def _release(service: Any, args: argparse.Namespace) -> int:
    from pos_app.engine.errors import TillError

    try:
        view = await service.c2b.release(args.trans_id, ask_pin("Owner PIN: "))
    except TillError as error:
        print(f"Refused: {error.message}", file=sys.stderr)
        _print_json(args, {"status": "refused", "reason": error.message})
        return EXIT_FAILED
    code = args.trans_id.strip().upper()
    if view is None:
        print(f"Payment {code} is free again for any sale of the shop.")
    else:
        print(f"Payment {code} is free again; sale {view.sale_id} here is no longer paid by it.")
    _print_json(args, {"status": "released", "trans_id": code, "sale_id": view.sale_id if view else None})
    return EXIT_OK
