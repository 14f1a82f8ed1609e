"""`mpesa-relay`: the callback relay and its admin commands.

Configuration comes from the environment (`DATABASE_URL`, `RELAY_*`: relay/settings.py declares them and
`mpesa-relay --help` lists them); a `.env` file in the working folder is read too, the environment winning.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relay.c2b import (
    CONFIRMATION,
    VALIDATION,
    C2bOutcome,
    ShopError,
    ShopRef,
    add_till_to_shop,
    create_shop,
    find_shop,
    forbidden_url_words,
    is_c2b_path,
    replay_c2b,
)
from relay.db import Database
from relay.intake import CallbackOutcome, replay_raw
from relay.migrate import current_revision, head_revision, upgrade
from relay.models import raw_table
from relay.notify import notify_sql
from relay.settings import RelaySettings, SettingsError, environment_variables
from relay.simulate import stk_callback_bytes
from relay.sources import is_allowed
from relay.tills import NoSuchTill, TillExists, active_tills, create_till_key, revoke_till_key

DEFAULT_URL = "http://127.0.0.1:8000/api/v1/payments/mpesa/callback"
DOTENV = Path(".env")


def _environment_help() -> str:
    lines = ["settings, from the environment or ./.env (the environment wins):"]
    for variable, field in environment_variables():
        lines.append(f"  {variable:<27} {field.description}{_default_of(field.default)}")
    return "\n".join(lines)


def _default_of(value: object) -> str:
    if isinstance(value, bool):
        return f" (default {str(value).lower()})"
    if isinstance(value, float):
        return f" (default {value:g})"
    if isinstance(value, int | str) and value != "":
        return f" (default {value})"
    return ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpesa-relay",
        description="M-Pesa STK callback relay",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the relay (migrates first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")

    commands.add_parser("migrate", help="bring the database schema up to date")

    create = commands.add_parser("create-till-key", help="issue a key for a till (printed once, last line)")
    create.add_argument("name")
    create.add_argument("--replace", action="store_true", help="swap the key of an active till, keep its URL")

    revoke = commands.add_parser("revoke-till-key", help="revoke a till's key")
    revoke.add_argument("name")

    shop = commands.add_parser("create-shop", help="a shop owning a till or paybill number (C2B payments)")
    shop.add_argument("name")
    shop.add_argument("shortcode")
    shop.add_argument("--base-url", default="", help="the relay's public URL, to print whole C2B URLs")

    member = commands.add_parser("add-till-to-shop", help="let a till see and claim its shop's C2B payments")
    member.add_argument("shop")
    member.add_argument("till")

    c2b_urls = commands.add_parser("c2b-token", help="print a shop's C2B confirmation and validation URLs")
    c2b_urls.add_argument("shop")
    c2b_urls.add_argument("--base-url", default="", help="the relay's public URL, to print whole C2B URLs")

    simulate = commands.add_parser("simulate-callback", help="POST a realistic STK callback to a relay")
    simulate.add_argument("checkout_request_id")
    simulate.add_argument("--result-code", default="0")
    simulate.add_argument("--amount", default="1")
    simulate.add_argument("--receipt", default=None)
    simulate.add_argument("--phone", default="254708374149")
    simulate.add_argument("--url", default=DEFAULT_URL)

    replay = commands.add_parser("replay", help="process a stored raw callback again, by its id")
    replay.add_argument("raw_id", type=int)

    doctor = commands.add_parser("doctor", help="check configuration and reachability")
    doctor.add_argument("--url", default=None, help="also check a running relay at this base URL")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "simulate-callback":
        return _simulate(args, out, err)
    try:
        settings = RelaySettings.from_env(env_file=DOTENV)
    except SettingsError as error:
        print(f"configuration: {error}", file=err)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.log_level)
    if args.command == "doctor":
        return asyncio.run(_doctor(settings, args.url, out))
    handler = {
        "migrate": _migrate,
        "create-till-key": _create,
        "revoke-till-key": _revoke,
        "replay": _replay,
        "create-shop": _create_shop,
        "add-till-to-shop": _add_till_to_shop,
        "c2b-token": _c2b_token,
    }
    try:
        return asyncio.run(handler[args.command](settings, args, out))
    except (TillExists, NoSuchTill, ShopError, LookupError, ValueError) as error:
        print(str(error).strip("'\""), file=err)
        return 1


def _serve(settings: RelaySettings, host: str, port: int, log_level: str) -> int:
    import uvicorn

    from daraja_core.serve import bounded_http_options
    from relay.app import create_app, release_waiters
    from relay.logs import configure_logging

    configure_logging(log_level.upper())
    app = create_app(settings, freeze_gc=True)

    class RelayServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Open long-polls (up to 30 s) answer their current status now and the tills poll again
            # elsewhere; left waiting, they outlived the graceful shutdown and were cancelled, each
            # logged as an error with a CancelledError traceback.
            release_waiters(app)
            await super().shutdown(sockets)

    # proxy_headers off: X-Forwarded-For is honoured by the relay itself, from RELAY_TRUSTED_PROXIES only.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=False,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
        **bounded_http_options(),
    )
    RelayServer(config).run()
    return 0


async def _with_db(settings: RelaySettings) -> Database:
    await upgrade(settings.database_url)
    return Database(settings.database_url)


async def _migrate(settings: RelaySettings, _args: argparse.Namespace, out: TextIO) -> int:
    await upgrade(settings.database_url)
    print(f"database schema at {await current_revision(settings.database_url)} (head)", file=out)
    return 0


async def _create(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        till, key = await db.write(lambda c: create_till_key(c, args.name, replace=args.replace))
    finally:
        await db.dispose()
    print(f"till: {till.name}", file=out)
    print(f"callback path: {till.callback_path}", file=out)
    print("give the till its relay URL and this key; the key is shown only now:", file=out)
    print(key, file=out)
    return 0


async def _revoke(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        await db.write(lambda c: revoke_till_key(c, args.name))
    finally:
        await db.dispose()
    print(f"revoked the key of till {args.name}; its callbacks are now kept but not applied", file=out)
    return 0


async def _create_shop(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        shop = await db.write(lambda c: create_shop(c, args.name, args.shortcode))
    finally:
        await db.dispose()
    print(f"shop: {shop.name} (shortcode {shop.shortcode})", file=out)
    _print_c2b_urls(shop, args.base_url, out)
    return 0


async def _add_till_to_shop(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        shop = await db.write(lambda c: add_till_to_shop(c, args.shop, args.till))
    finally:
        await db.dispose()
    print(f"till {args.till.strip()} now sees the C2B payments of shop {shop.name}", file=out)
    return 0


async def _c2b_token(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        shop = await db.read(lambda c: find_shop(c, args.shop))
    finally:
        await db.dispose()
    _print_c2b_urls(shop, args.base_url, out)
    return 0


def _print_c2b_urls(shop: ShopRef, base_url: str, out: TextIO) -> None:
    """The URLs to register for the shop's shortcode (docs/daraja.md §6), and any word Safaricom refuses."""
    confirmation, validation = shop.url(CONFIRMATION, base_url), shop.url(VALIDATION, base_url)
    print(f"confirmation URL: {confirmation}", file=out)
    print(f"validation URL: {validation}", file=out)
    if not base_url:
        print("(paths only: put the relay's public https address in front, or pass --base-url)", file=out)
    words = forbidden_url_words(confirmation)
    if words:
        print(f"WARNING: Safaricom refuses URLs containing {', '.join(words)}: use another address", file=out)


def _replay_and_notify(
    connection: Connection, raw_id: int, settings: RelaySettings
) -> CallbackOutcome | C2bOutcome:
    def allowed(address: str) -> bool:
        return not settings.ip_allowlist_enabled or is_allowed(address, settings.allowed_callback_ips)

    path = connection.execute(
        sa.select(raw_table.c.path).where(raw_table.c.id == raw_id)
    ).scalar_one_or_none()
    outcome: CallbackOutcome | C2bOutcome
    if path is not None and is_c2b_path(path):
        outcome, effects = replay_c2b(connection, raw_id, allowed)
    else:
        outcome, effects = replay_raw(
            connection, raw_id, allowed, lambda address: is_allowed(address, settings.allowed_callback_ips)
        )
    if connection.dialect.name == "postgresql":
        notify_sql(connection, effects.changes())
    return outcome


async def _replay(settings: RelaySettings, args: argparse.Namespace, out: TextIO) -> int:
    db = await _with_db(settings)
    try:
        outcome = await db.write(lambda c: _replay_and_notify(c, args.raw_id, settings))
    finally:
        await db.dispose()
    detail = f" ({outcome.error})" if outcome.error else ""
    print(f"callback {outcome.raw_id}: {outcome.status}{detail}", file=out)
    return 0


def _simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body = stk_callback_bytes(
        args.checkout_request_id,
        result_code=args.result_code,
        amount=args.amount,
        receipt=args.receipt,
        phone=args.phone,
    )
    try:
        answer = httpx.post(
            args.url,
            content=body,
            headers={"Content-Type": "application/json;charset=UTF-8", "Businessshortcode": "174379"},
            timeout=10,
        )
    except httpx.HTTPError as error:
        print(f"could not reach {args.url}: {error}", file=err)
        return 1
    print(f"HTTP {answer.status_code} {answer.text}", file=out)
    return 0 if answer.status_code == 200 else 1


async def _doctor(settings: RelaySettings, url: str | None, out: TextIO) -> int:
    problems: list[str] = []
    notes: list[str] = []
    db = Database(settings.database_url)
    try:
        await asyncio.wait_for(db.ping(), timeout=5)
    except Exception as error:
        problems.append(
            f"database: cannot reach {db.url.render_as_string(hide_password=True)}: {_short(error)}"
        )
    else:
        revision = await current_revision(settings.database_url)
        if revision != head_revision():
            problems.append(
                f"database: schema at {revision or 'nothing'}, needs {head_revision()}: "
                "run mpesa-relay migrate"
            )
        else:
            tills = await db.read(active_tills)
            if not tills:
                problems.append("tills: no active till key: run mpesa-relay create-till-key NAME")
            else:
                notes.append(f"tills: {len(tills)} active ({', '.join(t.name for t in tills)})")
    finally:
        await db.dispose()
    if url:
        base = url.rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                ready = await client.get(f"{base}/readyz")
            if ready.status_code == 200:
                notes.append(f"relay at {base}: ready")
            else:
                problems.append(f"relay at {base}: /readyz answered HTTP {ready.status_code}")
        except httpx.HTTPError as error:
            problems.append(f"relay at {base}: unreachable ({_short(error) or type(error).__name__})")
    if settings.is_sqlite:
        notes.append("database: SQLite (one relay instance; use PostgreSQL for several)")
    if settings.ip_allowlist_enabled and not settings.trusted_proxies:
        notes.append(
            "allow-list on with no RELAY_TRUSTED_PROXIES: "
            "right only if Safaricom connects to the relay directly"
        )
    if settings.admin_token is None and settings.admin_open:
        notes.append(
            "RELAY_ADMIN_OPEN without RELAY_ADMIN_TOKEN: /metrics and /api/v1/alerts are open to anyone "
            "who can reach them"
        )
    elif settings.admin_token is None:
        notes.append("RELAY_ADMIN_TOKEN not set: /metrics and /api/v1/alerts are closed")
    for line in notes:
        print(f"ok: {line}", file=out)
    for line in problems:
        print(f"PROBLEM: {line}", file=out)
    if not problems:
        print("no problems found", file=out)
    return 1 if problems else 0


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


if __name__ == "__main__":
    sys.exit(main())
