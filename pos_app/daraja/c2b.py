"""Daraja's C2B set-up calls for the till (docs/daraja.md §6): Register URL, and Pull Transactions
(register once, then query the shortcode's C2B payments of the last 48 hours).

Both only set up or read, so they go through `DarajaClient.post_authorised` (one fresh-token retry).
Answers are read here; errors keep Daraja's own code and message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from daraja_core.password import NAIROBI
from daraja_core.phones import InvalidPhone, mask_msisdn, normalise_msisdn
from daraja_core.results import normalise_code
from pos_app.daraja.client import DarajaClient
from pos_app.daraja.errors import DarajaError, DarajaUnreachable, RateLimited
from pos_app.daraja.replies import Reply

log = logging.getLogger(__name__)

REGISTER_URL_PATHS = {"v1": "/mpesa/c2b/v1/registerurl", "v2": "/mpesa/c2b/v2/registerurl"}
PULL_REGISTER_PATH = "/pulltransactions/v1/register"
PULL_QUERY_PATH = "/pulltransactions/v1/query"
#: §6: production answers a second registration with this code; delete the URLs in the portal first.
URLS_ALREADY_REGISTERED_CODE = "500.003.1001"
#: §6: Pull register's `Response Status`: 1000 registered now, 1001 registered already.
PULL_REGISTERED = frozenset({"1000", "1001"})
#: §6: Pull query's `ResponseCode`: 1000 rows follow, 1001 none in the period.
PULL_ROWS, PULL_NONE = "1000", "1001"
#: The most pages one pull reads; Daraja's page size is unpublished, the offset is a row number (§6).
PULL_MAX_PAGES = 50

ResponseType = Literal["Completed", "Cancelled"]


class UrlsAlreadyRegistered(DarajaError):
    """Production refused a second Register URL for the shortcode (§6 `500.003.1001`)."""


class PullRefused(DarajaError):
    """Pull Transactions refused the registration or the query (not registered, wrong shortcode…)."""


@dataclass(frozen=True)
class UrlsRegistered:
    originator_conversation_id: str
    description: str


@dataclass(frozen=True)
class PulledPayment:
    """One row of a Pull Transactions answer, read as the till keeps C2B payments."""

    trans_id: str
    amount_kes: int
    paid_at: datetime
    name: str
    phone: str  # masked 12-digit form, "" when the row's number cannot be read
    bill_ref: str


async def register_urls(
    daraja: DarajaClient,
    *,
    shortcode: str,
    confirmation_url: str,
    validation_url: str,
    response_type: ResponseType = "Completed",
    version: Literal["v1", "v2"] = "v2",
) -> UrlsRegistered:
    """Register the shortcode's C2B URLs. UrlsAlreadyRegistered on production's one-time rule; another
    DarajaError when Daraja refused or did not answer."""
    body = {
        "ShortCode": shortcode,
        "ResponseType": response_type,
        "ConfirmationURL": confirmation_url,
        "ValidationURL": validation_url,
    }
    reply = await daraja.post_authorised(REGISTER_URL_PATHS[version], body, "Register URL")
    body_ok = reply.status == 200 and isinstance(reply.body, dict)
    if body_ok and normalise_code(reply.body.get("ResponseCode", "")) == "0":
        return UrlsRegistered(
            # Misspelt on the wire (§6); accept the correct spelling too.
            originator_conversation_id=str(
                reply.body.get("OriginatorCoversationID") or reply.body.get("OriginatorConversationID") or ""
            ),
            description=str(reply.body.get("ResponseDescription") or ""),
        )
    if (
        reply.error_code == URLS_ALREADY_REGISTERED_CODE
        or "already registered" in reply.error_message.lower()
    ):
        raise reply.error(UrlsAlreadyRegistered, "The URLs of this shortcode are already registered")
    raise _refusal(reply, "Register URL")


async def pull_register(
    daraja: DarajaClient, *, shortcode: str, nominated_number: str, callback_url: str
) -> bool:
    """Register the shortcode for Pull Transactions; True when new, False when it was already."""
    body = {
        "ShortCode": shortcode,
        "RequestType": "Pull",
        "NominatedNumber": nominated_number,
        "CallBackURL": callback_url,
    }
    reply = await daraja.post_authorised(PULL_REGISTER_PATH, body, "Pull Transactions register")
    if reply.status == 200 and isinstance(reply.body, dict):
        # Keys with spaces in Safaricom's sample (§6).
        status = normalise_code(str(reply.body.get("Response Status", reply.body.get("ResponseStatus", ""))))
        if status in PULL_REGISTERED:
            return status == "1000"
    raise _refusal(reply, "Pull Transactions register", PullRefused)


async def pull_query(
    daraja: DarajaClient, *, shortcode: str, start: datetime, end: datetime
) -> list[PulledPayment]:
    """The shortcode's C2B payments between `start` and `end` (Daraja keeps 48 hours), every page."""
    found: dict[str, PulledPayment] = {}
    offset = 0
    for _page in range(PULL_MAX_PAGES):
        body = {
            "ShortCode": shortcode,
            "StartDate": _pull_date(start),
            "EndDate": _pull_date(end),
            "OffSetValue": str(offset),
        }
        reply = await daraja.post_authorised(PULL_QUERY_PATH, body, "Pull Transactions query")
        rows = _pull_rows(reply)
        if not rows:
            break
        for row in rows:
            payment = read_pull_row(row, shortcode)
            if payment is not None:
                found.setdefault(payment.trans_id, payment)
        offset += len(rows)
    return sorted(found.values(), key=lambda p: p.paid_at, reverse=True)


def _pull_date(moment: datetime) -> str:
    # §6: "2019-07-31 20:35:21", Nairobi time like every Daraja timestamp.
    return moment.astimezone(NAIROBI).strftime("%Y-%m-%d %H:%M:%S")


def _pull_rows(reply: Reply) -> list[dict[str, Any]]:
    if reply.status == 200 and isinstance(reply.body, dict):
        code = normalise_code(reply.body.get("ResponseCode", ""))
        if code == PULL_NONE:
            return []
        if code == PULL_ROWS:
            pages = reply.body.get("Response") or []
            # §6: a list of lists in the sample; accept a flat list as well.
            flat = [row for page in pages for row in (page if isinstance(page, list) else [page])]
            return [row for row in flat if isinstance(row, dict)]
    raise _refusal(reply, "Pull Transactions query", PullRefused)


def read_pull_row(row: dict[str, Any], shortcode: str) -> PulledPayment | None:
    """A row as a payment; None (logged) when it has no receipt, no whole positive amount or no date."""
    trans_id = str(row.get("transactionId") or "").strip().upper()
    try:
        amount = Decimal(str(row.get("amount", "")).strip())
    except InvalidOperation:
        amount = Decimal(0)
    paid_at = _trx_date(str(row.get("trxDate") or ""))
    if not trans_id or amount <= 0 or amount != amount.to_integral_value() or paid_at is None:
        log.warning("Pull Transactions row for %s skipped: not a whole payment with a date", shortcode)
        return None
    try:
        phone = mask_msisdn(normalise_msisdn(str(row.get("msisdn") or "")))
    except InvalidPhone:
        phone = ""  # the sample's `72200000` is no full number
    return PulledPayment(
        trans_id=trans_id,
        amount_kes=int(amount),
        paid_at=paid_at,
        name=str(row.get("sender") or "").strip()[:60],
        phone=phone,
        bill_ref=str(row.get("billreference") or "").strip()[:20],
    )


def _trx_date(text: str) -> datetime | None:
    # §6: "2020-08-05T10:13:00Z"; whether the "Z" is true UTC is unconfirmed, read as written.
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(text.strip(), pattern)  # noqa: DTZ007 (zone set below)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC if text.strip().endswith("Z") else NAIROBI).astimezone(UTC)
    return None


def _refusal(reply: Reply, what: str, kind: type[DarajaError] = DarajaError) -> DarajaError:
    if reply.rate_limited:
        return reply.error(RateLimited, "Daraja is limiting requests; try again in a minute")
    if reply.status >= 500 and not reply.error_code:
        return reply.error(DarajaUnreachable, f"Daraja failed to answer {what}; try again shortly")
    return reply.error(kind, f"Daraja refused {what}")
