"""`mpesa-sim`: run the Daraja simulator, or print its log.

mpesa-sim --host 127.0.0.1 --port 8089 [--callback-delay S] [--unreachable-delay S] ...
mpesa-sim log --url http://127.0.0.1:8089 [--json]
mpesa-sim customer-pay --till 174379 --amount 350 --phone 0712345678 [--ref X] [--url URL]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

import httpx
import uvicorn

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.simulator.app import create_app
from daraja_core.simulator.scenarios import SCENARIOS
from daraja_core.simulator.settings import DEMO_NOTICE, SIM_CONSUMER_KEY, SimulatorSettings

DEFAULT_PORT = 8089


def _shortcode_pair(text: str) -> tuple[str, str]:
    code, sep, passkey = text.partition("=")
    if not sep or not code.isdigit() or not passkey:
        raise argparse.ArgumentTypeError("use SHORTCODE=PASSKEY")
    return code, passkey


def serve_parser() -> argparse.ArgumentParser:
    defaults = SimulatorSettings()
    parser = argparse.ArgumentParser(
        prog="mpesa-sim",
        description=f"A local Daraja (M-Pesa) simulator. {DEMO_NOTICE}. "
        "`mpesa-sim log --url URL` prints a running simulator's log; "
        "`mpesa-sim customer-pay --help` plays a customer paying a till.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--callback-delay", type=float, default=defaults.callback_delay_s, metavar="S")
    parser.add_argument("--unreachable-delay", type=float, default=defaults.unreachable_delay_s, metavar="S")
    parser.add_argument(
        "--push-response-delay", type=float, default=defaults.push_response_delay_s, metavar="S"
    )
    parser.add_argument(
        "--min-query-interval", type=float, default=defaults.min_query_interval_s, metavar="S"
    )
    parser.add_argument("--token-lifetime", type=float, default=defaults.token_lifetime_s, metavar="S")
    parser.add_argument(
        "--c2b-validation",
        action="store_true",
        help="POST C2B validation requests to the registered ValidationURL (off on Daraja until enabled)",
    )
    parser.add_argument(
        "--c2b-validation-timeout", type=float, default=defaults.c2b_validation_timeout_s, metavar="S"
    )
    parser.add_argument(
        "--c2b-register-once",
        action="store_true",
        help='production rule: a second C2B URL registration is "Urls are already registered"',
    )
    parser.add_argument(
        "--token-invalidates-previous",
        action="store_true",
        help="each new OAuth token invalidates the previous one (Daraja's FAQ; unconfirmed live)",
    )
    parser.add_argument(
        "--shortcode",
        type=_shortcode_pair,
        action="append",
        default=[],
        metavar="SHORTCODE=PASSKEY",
        help="accept another shortcode (174379 with the sandbox passkey always works)",
    )
    return parser


def _log_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpesa-sim log", description="Print a running simulator's log.")
    parser.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="the simulator's base URL")
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    return parser


def _customer_pay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpesa-sim customer-pay",
        description="Play the customer: pay a till, a paybill or a generated QR code on a running simulator "
        "(its registered ValidationURL and ConfirmationURL get Daraja's C2B POSTs).",
    )
    parser.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="the simulator's base URL")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--till", metavar="NUMBER", help="pay a till (Buy Goods)")
    target.add_argument("--paybill", metavar="NUMBER", help="pay a paybill (needs --ref, the account number)")
    target.add_argument(
        "--qr", metavar="ID_OR_CONTENT", help="pay a generated QR code: its RequestID or content"
    )
    parser.add_argument("--amount", type=int, metavar="KES", help="whole shillings (not with --qr)")
    parser.add_argument("--phone", required=True, help="the paying M-Pesa number, e.g. 0712345678")
    parser.add_argument(
        "--ref", default="", help="BillRefNumber: the paybill account number (optional for a till)"
    )
    return parser


def customer_pay(argv: list[str]) -> int:
    args = _customer_pay_parser().parse_args(argv)
    body = {
        key: value
        for key, value in {
            "till": args.till,
            "paybill": args.paybill,
            "qr": args.qr,
            "amount": args.amount,
            "phone": args.phone,
            "ref": args.ref,
        }.items()
        if value not in (None, "")
    }
    try:
        answer = httpx.post(
            args.url.rstrip("/") + "/simulator/c2b/pay", json=body, timeout=60, trust_env=False
        )
    except httpx.HTTPError as problem:
        print(f"mpesa-sim: cannot reach the simulator at {args.url}: {problem}", file=sys.stderr)
        return 1
    result = answer.json()
    if answer.status_code != 200:
        print(f"mpesa-sim: payment refused: {result.get('error', answer.text)}", file=sys.stderr)
        return 2
    print(
        f"{DEMO_NOTICE}: KES {result['amount_kes']} from {result['phone']} to {result['shortcode']}, "
        f"M-Pesa receipt {result['TransID']}: {result['detail']}"
    )
    return 0 if result["status"] == "completed" else 3


def _format_log(log: dict[str, Any]) -> str:
    lines = [str(log.get("notice", DEMO_NOTICE)), "", "Requests:"]
    for entry in log.get("requests", []):
        phone = f" {entry['phone']}" if entry.get("phone") else ""
        lines.append(f"  {entry['time']}  {entry['method']} {entry['path']}{phone}  → {entry['outcome']}")
    lines += ["", "Callbacks:"]
    for entry in log.get("callbacks", []):
        callback = entry.get("body", {}).get("Body", {}).get("stkCallback", {})
        result = entry["error"] or f"HTTP {entry['status']}"
        lines.append(
            f"  {entry['time']}  {entry['checkout_request_id']} ResultCode {callback.get('ResultCode')}"
            f" → {entry['url']}  {result}"
        )
    lines += ["", "C2B:"]
    for entry in log.get("c2b", []):
        if entry["kind"] == "payment":
            what = f"payment KES {entry['amount_kes']} from {entry['phone']}: {entry['detail']}"
        else:
            what = f"{entry['kind']} → {entry['url']}  {entry['error'] or 'HTTP ' + str(entry['status'])}"
        lines.append(f"  {entry['time']}  {entry['trans_id']} to {entry['shortcode']} {what}")
    return "\n".join(lines)


def print_log(argv: list[str]) -> int:
    args = _log_parser().parse_args(argv)
    try:
        answer = httpx.get(args.url.rstrip("/") + "/simulator/log", timeout=10, trust_env=False)
        answer.raise_for_status()
    except httpx.HTTPError as problem:
        print(f"mpesa-sim: cannot read the log at {args.url}: {problem}", file=sys.stderr)
        return 1
    log = answer.json()
    print(json.dumps(log, indent=2, ensure_ascii=False) if args.json else _format_log(log))
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> SimulatorSettings:
    return SimulatorSettings.from_env(
        environ,
        callback_delay_s=args.callback_delay,
        unreachable_delay_s=args.unreachable_delay,
        push_response_delay_s=args.push_response_delay,
        min_query_interval_s=args.min_query_interval,
        token_lifetime_s=args.token_lifetime,
        token_invalidates_previous=args.token_invalidates_previous,
        c2b_validation=args.c2b_validation,
        c2b_validation_timeout_s=args.c2b_validation_timeout,
        c2b_register_once=args.c2b_register_once,
        shortcodes={SANDBOX_SHORTCODE: SANDBOX_PASSKEY, **dict(args.shortcode)},
    )


def serve(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    settings = settings_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    host_text = f"[{args.host}]" if ":" in args.host else args.host
    print(f"{DEMO_NOTICE}: Daraja simulator on http://{host_text}:{args.port}")
    if settings.consumer_key == SIM_CONSUMER_KEY:
        print(f"  consumer key/secret: {settings.consumer_key} / {settings.consumer_secret}")
    else:
        print("  consumer key/secret: MPESA_CONSUMER_KEY / MPESA_CONSUMER_SECRET from the environment")
    print(f"  shortcodes: {', '.join(sorted(settings.all_shortcodes()))}")
    print("  scenario phones: " + ", ".join(f"{phone} {s.name}" for phone, s in SCENARIOS.items()))
    if not _is_loopback(args.host):
        print(f"  warning: listening on {args.host}, not loopback: anyone who can reach it can use it")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["log"]:
        return print_log(arguments[1:])
    if arguments[:1] == ["customer-pay"]:
        return customer_pay(arguments[1:])
    if arguments[:1] == ["serve"]:
        arguments = arguments[1:]
    return serve(arguments)


if __name__ == "__main__":
    sys.exit(main())
