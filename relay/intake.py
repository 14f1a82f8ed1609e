"""Where a callback is stored, parsed, checked and decided; `relay.settle` applies the decision.

Everything here is synchronous SQLAlchemy on one open transaction; `relay.writer` calls it with a batch
of concurrent callbacks (group commit) and answers Safaricom only after the commit. The order inside
the transaction is dj-stripe's (https://github.com/dj-stripe/dj-stripe, `djstripe/models/webhooks.py`):
store every raw request first, then parse, then dedupe on `CheckoutRequestID` and apply. If applying
ever fails, the writer stores the raw request alone with the error (`store_raw_only`), so nothing
acknowledged is ever lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daraja_core.callback import CallbackParseError, StkCallback, parse_stk_callback
from daraja_core.contract import SELFTEST_PREFIX
from daraja_core.phones import mask_msisdn
from daraja_core.results import QUERY_PENDING_CODES
from relay.models import raw_table
from relay.rows import Rows
from relay.settle import Effects, Unit
from relay.storable import fit_callback

# Raw statuses whose result is stored (or deliberately not stored): replay has nothing to add.
SETTLED_STATUSES = frozenset({"applied", "orphan", "duplicate", "contradicting", "selftest"})


@dataclass(frozen=True)
class IncomingCallback:
    """One request to a callback path, as received."""

    received_at: datetime
    path: str
    token: str | None  # None on the untokenised seed path
    source_ip: str
    source_allowed: bool  # False only when the allow-list is on and the source is not Safaricom's
    headers: dict[str, str]
    body: bytes
    #: The source is on Safaricom's list, whether or not the allow-list is enforced. A result on the seed
    #: path from an unlisted source is only a hint (`unverified`, docs/daraja.md §5).
    source_listed: bool = True

    @property
    def unverified(self) -> bool:
        """Anyone who knows the seed path can post to it: without the till's token or a Safaricom
        address, the result is kept as a hint the till confirms by STK Query."""
        return self.token is None and not self.source_listed


@dataclass(frozen=True)
class CallbackOutcome:
    raw_id: int
    status: str
    checkout_request_id: str | None
    error: str | None = None


def _result_row(
    parsed: StkCallback, raw_id: int, till_id: int | None, now: datetime, unverified: bool
) -> dict[str, Any]:
    return {
        "checkout_request_id": parsed.checkout_request_id,
        "raw_callback_id": raw_id,
        "till_id": till_id,
        "merchant_request_id": parsed.merchant_request_id,
        "result_code": parsed.result_code,
        "result_desc": parsed.result_desc,
        "amount_text": None if parsed.amount is None else str(parsed.amount),
        "amount_kes": parsed.amount_kes,
        "receipt": parsed.receipt,
        "phone": parsed.phone,
        "transaction_date": parsed.transaction_date,
        "received_at": now,
        "duplicates": 0,
        "contradictions": 0,
        "unverified": unverified,
    }


def _same_result(stored: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(stored[k] == new[k] for k in ("result_code", "receipt", "amount_text", "phone"))


def _raw_row(item: IncomingCallback) -> dict[str, Any]:
    return {
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
    }


def store_raw(connection: Connection, items: Sequence[IncomingCallback]) -> list[int]:
    rows = Rows(connection)
    ids = rows.next_ids("raw_callback", len(items))
    rows.many(
        "INSERT INTO raw_callback (id, received_at, path, token, till_id, source_ip, headers, body, status) "
        "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 'received')",
        [
            (
                raw_id,
                rows.dt_in(item.received_at),
                item.path,
                item.token,
                item.source_ip,
                json.dumps(item.headers, separators=(",", ":")),
                item.body,
            )
            for raw_id, item in zip(ids, items, strict=True)
        ],
    )
    return ids


def store_raw_only(connection: Connection, item: IncomingCallback, error: str) -> CallbackOutcome:
    """The fallback when processing failed: keep the request and the error so it can be replayed."""
    row = _raw_row(item) | {"status": "failed", "error": error[:2000]}
    raw_id = connection.execute(sa.insert(raw_table).returning(raw_table.c.id), row).scalar_one()
    return CallbackOutcome(raw_id, "failed", None, error)


def process_callbacks(
    connection: Connection, items: Sequence[IncomingCallback], raw_ids: Sequence[int] | None = None
) -> tuple[list[CallbackOutcome], Effects]:
    """Store (unless `raw_ids` says they are stored already: a replay), parse, dedupe and apply."""
    if raw_ids is None:
        raw_ids = store_raw(connection, items)
    unit = Unit(connection)
    parsed: list[StkCallback | CallbackParseError] = []
    notes: list[str | None] = []
    for item in items:
        note = None
        try:
            fitted, note = fit_callback(parse_stk_callback(item.body))
            parsed.append(fitted)
        except CallbackParseError as error:
            parsed.append(error)
        notes.append(note)
    unit.preload(
        {p.checkout_request_id for p in parsed if isinstance(p, StkCallback)},
        {item.token for item in items if item.token is not None},
    )
    outcomes: list[CallbackOutcome] = []
    raw_updates: list[tuple[Any, ...]] = []
    for item, raw_id, result, note in zip(items, raw_ids, parsed, notes, strict=True):
        till_id = None if item.token is None else unit.tills_by_token.get(item.token)
        outcome = _decide(unit, item, raw_id, result, till_id)
        outcomes.append(outcome)
        kept_error = "; ".join(text for text in (outcome.error, note) if text) or None
        raw_updates.append((outcome.status, kept_error, outcome.checkout_request_id, till_id, raw_id))
        unit.effects.events.append(
            {
                "event": "callback",
                "raw_id": raw_id,
                "status": outcome.status,
                "checkout_request_id": outcome.checkout_request_id,
                "result_code": None if isinstance(result, CallbackParseError) else result.result_code,
                "phone": None if isinstance(result, CallbackParseError) else mask_msisdn(result.phone),
                "till_id": till_id,
                "source_ip": item.source_ip,
                "path": "seed" if item.token is None else "tokenised",
                "unverified": item.unverified,
                "error": outcome.error,
            }
        )
    unit.flush()
    unit.rows.many(
        "UPDATE raw_callback SET status = ?, error = ?, checkout_request_id = ?, till_id = ? WHERE id = ?",
        raw_updates,
    )
    return outcomes, unit.effects


def _decide(
    unit: Unit,
    item: IncomingCallback,
    raw_id: int,
    parsed: StkCallback | CallbackParseError,
    till_id: int | None,
) -> CallbackOutcome:
    now = item.received_at
    if isinstance(parsed, CallbackParseError):
        return CallbackOutcome(raw_id, "malformed", None, str(parsed))
    cid = parsed.checkout_request_id
    if item.token is not None and till_id is None:
        return CallbackOutcome(raw_id, "unknown_token", cid, "no active till has this callback token")
    if not item.source_allowed:
        return CallbackOutcome(
            raw_id, "forbidden_source", cid, f"{item.source_ip} is not a Safaricom address"
        )
    if cid.startswith(SELFTEST_PREFIX):
        unit.selftests.append(
            {"checkout_request_id": cid, "till_id": till_id, "raw_callback_id": raw_id, "received_at": now}
        )
        if till_id is not None:
            unit.effects.till_ids.add(till_id)
        return CallbackOutcome(raw_id, "selftest", cid)
    if parsed.result_code in QUERY_PENDING_CODES:
        return CallbackOutcome(
            raw_id, "not_final", cid, f"ResultCode {parsed.result_code} is not a final result"
        )
    payment = unit.payments.get(cid)
    if payment is not None and till_id is not None and payment["till_id"] != till_id:
        return CallbackOutcome(raw_id, "wrong_till", cid, "the payment belongs to another till")
    new = _result_row(parsed, raw_id, till_id, now, item.unverified)
    stored = unit.results.get(cid)
    if stored is not None:
        if stored["unverified"] and not item.unverified:
            # A genuine result wins over the hint that came first (a forged "cancelled" must not leave a
            # paid payment failed); the hint stays in raw_callback.
            note = f"replaces the unverified result of raw {stored['raw_callback_id']}"
            unit.replace_result(cid, new)
            if payment is None:
                return CallbackOutcome(raw_id, "orphan", cid, note)
            unit.resettle(payment, new, now)
            return CallbackOutcome(raw_id, "applied", cid, note)
        dup, con = unit.result_counts.get(cid, (0, 0))
        if _same_result(stored, new):
            unit.result_counts[cid] = (dup + 1, con)
            return CallbackOutcome(raw_id, "duplicate", cid)
        if item.unverified and not stored["unverified"]:
            # A hint cannot contradict a genuine result: kept raw, the payment untouched, and not counted
            # as a contradiction (a payment registered later must not be flagged for it either).
            return CallbackOutcome(
                raw_id,
                "contradicting",
                cid,
                f"unverified; the verified result (raw {stored['raw_callback_id']}) stands",
            )
        unit.result_counts[cid] = (dup, con + 1)
        if payment is not None:
            unit.contradict(payment, now, parsed.result_code)
        return CallbackOutcome(
            raw_id, "contradicting", cid, f"differs from the first result (raw {stored['raw_callback_id']})"
        )
    unit.results[cid] = new
    unit.new_results[cid] = new
    hint = "unverified: seed path, source not on Safaricom's list" if item.unverified else None
    if payment is None:
        return CallbackOutcome(raw_id, "orphan", cid, hint)
    unit.settle(payment, new, now)
    return CallbackOutcome(raw_id, "applied", cid, hint)


def replay_raw(
    connection: Connection,
    raw_id: int,
    source_allowed: Callable[[str], bool] | None = None,
    source_listed: Callable[[str], bool] | None = None,
) -> tuple[CallbackOutcome, Effects]:
    """Process a stored request again, as if it had just arrived (same path, token, source and time).

    `source_allowed` judges the stored source address under today's settings (for example after an
    allow-list that refused Safaricom's real address was fixed); without it the first verdict stands.
    `source_listed` says whether the address is Safaricom's; without it a seed-path result is replayed
    as unverified (a hint the till confirms), never trusted by default.
    """
    row = connection.execute(sa.select(raw_table).where(raw_table.c.id == raw_id)).mappings().first()
    if row is None:
        raise LookupError(f"no stored callback with id {raw_id}")
    if row["status"] in SETTLED_STATUSES:
        # Its result is stored already; processing it again could only count it as its own duplicate.
        raise ValueError(f"callback {raw_id} was processed already ({row['status']}); nothing to replay")
    item = IncomingCallback(
        received_at=row["received_at"],
        path=row["path"],
        token=row["token"],
        source_ip=row["source_ip"],
        source_allowed=(
            source_allowed(row["source_ip"])
            if source_allowed is not None
            else row["status"] != "forbidden_source"
        ),
        headers=json.loads(row["headers"]),
        body=row["body"],
        source_listed=source_listed(row["source_ip"]) if source_listed is not None else False,
    )
    outcomes, effects = process_callbacks(connection, [item], raw_ids=[raw_id])
    return outcomes[0], effects
