"""C2B payments (docs/daraja.md §6): a shop owns a shortcode and has several tills; a customer's payment
to the shortcode reaches the relay on the shop's tokenised confirmation URL, every till of the shop sees it
in its feed, and one sale claims it.

- Intake (`process_c2b`) runs as a writer job, so it is group-committed with the STK callbacks and the
  request is answered only after the commit. The raw request is stored first (`raw_callback`, like an
  STK callback), then parsed; only a parsable body on a known shop's path, for that shop's shortcode,
  becomes a `c2b_payment`, once per TransID (later copies are counted as duplicates).
- Claims (`claim`) are one conditional UPDATE (`… WHERE claimed_by IS NULL`): whichever till's
  statement runs first wins, on SQLite and on PostgreSQL with several relay instances alike. Each claim,
  refused claim and release is kept in `claim_event`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daraja_core.c2b import C2bNotification, C2bParseError, parse_c2b_notification
from daraja_core.contract import C2bPayment, FeedKind, ReceiptAnswer, TillShop, wire_time
from relay import feed
from relay.intake import IncomingCallback
from relay.models import (
    c2b_table,
    claim_event_table,
    raw_table,
    shop_table,
    shop_till_table,
    till_table,
    utcnow,
)
from relay.settle import Effects
from relay.tills import TillRef

C2B_PATH_PREFIX = "/api/v1/callbacks/c2b/"
CONFIRMATION = "confirmation"
VALIDATION = "validation"
#: Words Safaricom refuses in registered URLs (docs/daraja.md §5), lower-cased.
FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
ORDER_ID_MAX = 120
#: Raw statuses of C2B requests whose outcome is stored: replaying them has nothing to add.
C2B_SETTLED_STATUSES = frozenset({"c2b_applied", "c2b_duplicate", "c2b_validation"})


class ShopError(ValueError):
    """A shop command that cannot be done, with a sentence for people."""


@dataclass(frozen=True)
class ShopRef:
    id: int
    name: str
    shortcode: str
    token: str

    def url(self, kind: str, base_url: str = "") -> str:
        return f"{base_url.rstrip('/')}{C2B_PATH_PREFIX}{self.token}/{kind}"


def forbidden_url_words(url: str) -> list[str]:
    """The words of §5 that `url` contains (Safaricom would refuse to register it)."""
    lowered = url.lower()
    return [word for word in FORBIDDEN_URL_WORDS if word in lowered]


# -- shops (mpesa-relay create-shop, add-till-to-shop, c2b-token) ---------------------------------------


def _shop(row: Any) -> ShopRef:
    return ShopRef(row["id"], row["name"], row["shortcode"], row["token"])


def create_shop(connection: Connection, name: str, shortcode: str) -> ShopRef:
    name, shortcode = name.strip(), shortcode.strip()
    if not name:
        raise ShopError("a shop needs a name")
    if not (shortcode.isdigit() and 5 <= len(shortcode) <= 8):
        raise ShopError(f"{shortcode!r} is not a till or paybill number (5 to 8 digits)")
    taken = connection.execute(
        sa.select(shop_table.c.name).where(
            sa.or_(shop_table.c.name == name, shop_table.c.shortcode == shortcode)
        )
    ).scalar_one_or_none()
    if taken is not None:
        raise ShopError(f"shop {taken!r} already has this name or shortcode")
    token = secrets.token_hex(16)  # hex: never spells a word of §5
    shop_id = connection.execute(
        sa.insert(shop_table)
        .values(name=name, shortcode=shortcode, token=token, created_at=utcnow())
        .returning(shop_table.c.id)
    ).scalar_one()
    return ShopRef(shop_id, name, shortcode, token)


def find_shop(connection: Connection, name: str) -> ShopRef:
    row = (
        connection.execute(sa.select(shop_table).where(shop_table.c.name == name.strip())).mappings().first()
    )
    if row is None:
        raise ShopError(f"no shop named {name.strip()!r} (mpesa-relay create-shop NAME SHORTCODE)")
    return _shop(row)


def add_till_to_shop(connection: Connection, shop_name: str, till_name: str) -> ShopRef:
    shop = find_shop(connection, shop_name)
    till_id = connection.execute(
        sa.select(till_table.c.id).where(till_table.c.name == till_name.strip())
    ).scalar_one_or_none()
    if till_id is None:
        raise ShopError(f"no till named {till_name.strip()!r} (mpesa-relay create-till-key NAME)")
    current = connection.execute(
        sa.select(shop_till_table.c.shop_id).where(shop_till_table.c.till_id == till_id)
    ).scalar_one_or_none()
    if current == shop.id:
        return shop
    if current is not None:
        raise ShopError(f"till {till_name.strip()!r} already belongs to another shop")
    connection.execute(sa.insert(shop_till_table).values(till_id=till_id, shop_id=shop.id, added_at=utcnow()))
    return shop


def shop_of_till(connection: Connection, till_id: int) -> TillShop | None:
    """The till's shop with the paths of its C2B URLs (`GET /api/v1/till`), or None."""
    row = (
        connection.execute(
            sa.select(shop_table)
            .join(shop_till_table, shop_till_table.c.shop_id == shop_table.c.id)
            .where(shop_till_table.c.till_id == till_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    shop = _shop(row)
    return TillShop(shop.name, shop.shortcode, shop.url(CONFIRMATION), shop.url(VALIDATION))


def _shop_till_ids(connection: Connection, shop_id: int) -> list[int]:
    return list(
        connection.execute(
            sa.select(shop_till_table.c.till_id)
            .join(till_table, till_table.c.id == shop_till_table.c.till_id)
            .where(shop_till_table.c.shop_id == shop_id, till_table.c.revoked_at.is_(None))
        ).scalars()
    )


def _add_feed(connection: Connection, effects: Effects, shop_id: int, c2b_id: int, now: datetime) -> None:
    till_ids = _shop_till_ids(connection, shop_id)
    feed.append(connection, [(till_id, c2b_id, FeedKind.C2B, now) for till_id in till_ids])
    effects.till_ids.update(till_ids)


# -- intake -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class C2bOutcome:
    raw_id: int
    status: str  # c2b_applied | c2b_duplicate | c2b_validation | malformed | unknown_token | …
    trans_id: str | None
    error: str | None = None


def process_c2b(
    connection: Connection, item: IncomingCallback, kind: str, raw_id: int | None = None
) -> tuple[C2bOutcome, Effects]:
    """Store the request raw (unless `raw_id` says it is stored: a replay), then parse it, and (a
    confirmation) dedupe on TransID and offer it to the shop's tills."""
    if raw_id is None:
        raw_id = _store_raw(connection, item)
    effects = Effects()
    outcome = _decide(connection, item, kind, raw_id, effects)
    connection.execute(
        sa.update(raw_table)
        .where(raw_table.c.id == raw_id)
        .values(status=outcome.status, error=outcome.error)
    )
    effects.events.append(
        {
            "event": "callback",
            "kind": f"c2b_{kind}",
            "raw_id": raw_id,
            "status": outcome.status,
            "trans_id": outcome.trans_id,
            "source_ip": item.source_ip,
            "error": outcome.error,
        }
    )
    return outcome, effects


def is_c2b_path(path: str) -> bool:
    return path.startswith(C2B_PATH_PREFIX)


def replay_c2b(
    connection: Connection, raw_id: int, source_allowed: Callable[[str], bool]
) -> tuple[C2bOutcome, Effects]:
    """Process a stored C2B request again (`mpesa-relay replay`), judging its source by today's settings."""
    row = connection.execute(sa.select(raw_table).where(raw_table.c.id == raw_id)).mappings().first()
    if row is None or not is_c2b_path(row["path"]):
        raise LookupError(f"no stored C2B request with id {raw_id}")
    if row["status"] in C2B_SETTLED_STATUSES:
        raise ValueError(f"C2B request {raw_id} was processed already ({row['status']}); nothing to replay")
    item = IncomingCallback(
        received_at=row["received_at"],
        path=row["path"],
        token=row["token"],
        source_ip=row["source_ip"],
        source_allowed=source_allowed(row["source_ip"]),
        headers=json.loads(row["headers"]),
        body=row["body"],
    )
    kind = VALIDATION if row["path"].rstrip("/").endswith("/" + VALIDATION) else CONFIRMATION
    return process_c2b(connection, item, kind, raw_id)


def _store_raw(connection: Connection, item: IncomingCallback) -> int:
    raw_id: int = connection.execute(
        sa.insert(raw_table).returning(raw_table.c.id),
        {
            "received_at": item.received_at,
            "path": item.path,
            "token": item.token,
            "till_id": None,
            "source_ip": item.source_ip,
            "headers": json.dumps(item.headers, separators=(",", ":")),
            "body": item.body,
            "status": "received",
            "error": None,
            "checkout_request_id": None,
        },
    ).scalar_one()
    return raw_id


def _decide(
    connection: Connection, item: IncomingCallback, kind: str, raw_id: int, effects: Effects
) -> C2bOutcome:
    shop_row = (
        connection.execute(sa.select(shop_table).where(shop_table.c.token == item.token)).mappings().first()
    )
    if shop_row is None:
        return C2bOutcome(raw_id, "unknown_token", None, "no shop has this C2B token")
    if not item.source_allowed:
        return C2bOutcome(raw_id, "forbidden_source", None, f"{item.source_ip} is not a Safaricom address")
    try:
        parsed = parse_c2b_notification(item.body)
    except C2bParseError as error:
        return C2bOutcome(raw_id, "malformed", None, str(error))
    if kind == VALIDATION:
        # Accepted, never a payment: the confirmation is what says the money moved (§6).
        return C2bOutcome(raw_id, "c2b_validation", parsed.trans_id)
    shop = _shop(shop_row)
    if parsed.shortcode != shop.shortcode:
        return C2bOutcome(
            raw_id,
            "wrong_shortcode",
            parsed.trans_id,
            f"for shortcode {parsed.shortcode}, not {shop.shortcode}",
        )
    existing = connection.execute(
        sa.update(c2b_table)
        .where(c2b_table.c.trans_id == parsed.trans_id)
        .values(duplicates=c2b_table.c.duplicates + 1)
    )
    if existing.rowcount:
        return C2bOutcome(raw_id, "c2b_duplicate", parsed.trans_id)
    c2b_id = connection.execute(
        sa.insert(c2b_table).returning(c2b_table.c.id), _payment_row(parsed, shop, raw_id, item.received_at)
    ).scalar_one()
    _add_feed(connection, effects, shop.id, c2b_id, item.received_at)
    effects.events.append(
        {
            "event": "c2b_payment",
            "trans_id": parsed.trans_id,
            "shop": shop.name,
            "amount_kes": parsed.amount_kes,
            "phone": parsed.phone_masked,
        }
    )
    return C2bOutcome(raw_id, "c2b_applied", parsed.trans_id)


def _payment_row(parsed: C2bNotification, shop: ShopRef, raw_id: int, now: datetime) -> dict[str, Any]:
    return {
        "trans_id": parsed.trans_id,
        "shop_id": shop.id,
        "raw_callback_id": raw_id,
        "transaction_type": parsed.transaction_type,
        "trans_time": parsed.trans_time,
        "amount_kes": parsed.amount_kes,
        "shortcode": parsed.shortcode,
        "bill_ref": parsed.bill_ref,
        "first_name": parsed.first_name,
        "phone_masked": parsed.phone_masked,
        "received_at": now,
        "duplicates": 0,
        "claimed_by": None,
        "claimed_till_id": None,
        "claimed_at": None,
    }


# -- claims ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    payment: C2bPayment | None  # None: the till's shop has no such payment
    won: bool


def _shop_of(connection: Connection, till_id: int) -> int | None:
    shop_id: int | None = connection.execute(
        sa.select(shop_till_table.c.shop_id).where(shop_till_table.c.till_id == till_id)
    ).scalar_one_or_none()
    return shop_id


def _find(connection: Connection, till_id: int, trans_id: str) -> Any:
    shop_id = _shop_of(connection, till_id)
    if shop_id is None:
        return None
    return (
        connection.execute(
            sa.select(c2b_table).where(
                c2b_table.c.trans_id == trans_id.strip().upper(), c2b_table.c.shop_id == shop_id
            )
        )
        .mappings()
        .first()
    )


def _audit(
    connection: Connection,
    c2b_id: int,
    action: str,
    till_id: int,
    order_id: str | None,
    now: datetime,
    by: str = "",
) -> None:
    connection.execute(
        sa.insert(claim_event_table).values(
            c2b_payment_id=c2b_id, action=action, till_id=till_id, order_id=order_id, by=by[:100], at=now
        )
    )


def claim(
    connection: Connection, till: TillRef, trans_id: str, order_id: str, now: datetime
) -> tuple[ClaimResult, Effects]:
    """Give the payment to `order_id` unless a sale has it already (then `won` is False)."""
    effects = Effects()
    row = _find(connection, till.id, trans_id)
    if row is None:
        return ClaimResult(None, won=False), effects
    taken = connection.execute(
        sa.update(c2b_table)
        .where(c2b_table.c.id == row["id"], c2b_table.c.claimed_by.is_(None))
        .values(claimed_by=order_id, claimed_till_id=till.id, claimed_at=now)
    )
    if taken.rowcount == 1:
        _audit(connection, row["id"], "claim", till.id, order_id, now)
        _add_feed(connection, effects, row["shop_id"], row["id"], now)
        effects.events.append({"event": "c2b_claimed", "trans_id": row["trans_id"], "till_id": till.id})
        return ClaimResult(_answer_by_id(connection, row["id"]), won=True), effects
    current = _answer_by_id(connection, row["id"])
    # The same sale claiming again (its first answer was lost) is not refused.
    if current.claimed_by == order_id:
        return ClaimResult(current, won=True), effects
    _audit(connection, row["id"], "refused", till.id, order_id, now)
    return ClaimResult(current, won=False), effects


def release(
    connection: Connection, till: TillRef, trans_id: str, released_by: str, now: datetime
) -> tuple[C2bPayment | None, Effects]:
    """Free the payment for another sale; who released it (the till checked the owner's PIN) is kept."""
    effects = Effects()
    row = _find(connection, till.id, trans_id)
    if row is None:
        return None, effects
    if row["claimed_by"] is not None:
        connection.execute(
            sa.update(c2b_table)
            .where(c2b_table.c.id == row["id"])
            .values(claimed_by=None, claimed_till_id=None, claimed_at=None)
        )
        _audit(connection, row["id"], "release", till.id, row["claimed_by"], now, released_by)
        _add_feed(connection, effects, row["shop_id"], row["id"], now)
        effects.events.append({"event": "c2b_released", "trans_id": row["trans_id"], "till_id": till.id})
    return _answer_by_id(connection, row["id"]), effects


# -- read side ---------------------------------------------------------------------------------------------


def c2b_answer(row: Any) -> C2bPayment:
    paid_at = row["trans_time"] or row["received_at"]
    return C2bPayment(
        trans_id=row["trans_id"],
        amount_kes=row["amount_kes"],
        first_name=row["first_name"],
        phone=row["phone_masked"],
        bill_ref=row["bill_ref"],
        shortcode=row["shortcode"],
        paid_at=paid_at.isoformat(),
        received_at=row["received_at"].isoformat(),
        claimed_by=row["claimed_by"],
        claimed_at=wire_time(row["claimed_at"]),
    )


def _answer_by_id(connection: Connection, c2b_id: int) -> C2bPayment:
    row = connection.execute(sa.select(c2b_table).where(c2b_table.c.id == c2b_id)).mappings().one()
    return c2b_answer(row)


def c2b_payments_by_id(connection: Connection, ids: list[int]) -> dict[int, C2bPayment]:
    if not ids:
        return {}
    rows = connection.execute(sa.select(c2b_table).where(c2b_table.c.id.in_(ids))).mappings()
    return {row["id"]: c2b_answer(row) for row in rows}


def c2b_receipt_lookup(connection: Connection, till_id: int, receipt: str) -> ReceiptAnswer | None:
    row = _find(connection, till_id, receipt)
    if row is None:
        return None
    payment = c2b_answer(row)
    return ReceiptAnswer(
        receipt=payment.trans_id,
        amount_kes=payment.amount_kes,
        phone=payment.phone,
        checkout_request_id="",
        order_id=payment.claimed_by,
        transaction_date=payment.paid_at,
        result_code="0",
        c2b=payment,
    )
