"""C2B payments in the simulator: URL registrations, the customer's payments, their validation and
confirmation POSTs, Dynamic QR codes and Pull Transactions over the payment history (docs/daraja.md §6, §6b).

A payment goes: validation POST (only when external validation is on and URLs are registered), then the
confirmation POST(s). Neither is retried; every POST and each payment's end are in the log (`log()`),
which is what tests and people wait on.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from daraja_core.phones import mask_msisdn
from daraja_core.simulator import errors
from daraja_core.simulator.c2b_bodies import (
    CUSTOMER_FIRST_NAME,
    PAY_BILL,
    C2BPaymentFacts,
    ValidationVerdict,
    body_for_log,
    c2b_body,
    read_validation_answer,
)
from daraja_core.simulator.c2b_requests import PullQuery, UrlRegistration
from daraja_core.simulator.callbacks import CALLBACK_HEADERS_BASE, redact_url
from daraja_core.simulator.errors import DarajaError
from daraja_core.simulator.identifiers import new_receipt_number
from daraja_core.simulator.qr import QrPayment, parse_qr_content, qr_content
from daraja_core.simulator.scenarios import c2b_confirmation_copies
from daraja_core.simulator.settings import DEMO_NOTICE, SimulatorSettings

logger = logging.getLogger("daraja_core.simulator")

#: Pull Transactions keeps a shortcode's C2B payments for 48 hours (§6).
PULL_RETENTION = timedelta(hours=48)
#: Rows per Pull Transactions answer; Daraja's page size is unpublished.
PULL_PAGE_SIZE = 100
#: Generated QR codes kept for paying by RequestID (the newest; the content itself always pays).
QR_KEPT = 2000
LOG_LIMIT = 2000

URLS_ALREADY_REGISTERED = DarajaError(500, "500.003.1001", "Urls are already registered")
#: Pull Transactions on a shortcode that never registered for it: the simulator's guess in Daraja's style.
PULL_NOT_REGISTERED = errors.bad_request("ShortCode")


class C2BStatus(enum.StrEnum):
    COMPLETED = "completed"
    REJECTED = "rejected"  # the merchant's ValidationURL said no
    CANCELLED = "cancelled"  # no usable validation answer and ResponseType Cancelled


@dataclass(frozen=True)
class Registration:
    urls: UrlRegistration
    version: str  # "v1" or "v2": the path registered on decides the MSISDN form (§6)


@dataclass
class C2BPayment:
    facts: C2BPaymentFacts
    originator_conversation_id: str | None
    confirmation_copies: int
    status: C2BStatus | None = None
    result_code: str | None = None
    confirmations_delivered: int = 0
    detail: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "TransID": self.facts.trans_id,
            "shortcode": self.facts.shortcode,
            "amount_kes": self.facts.amount_kes,
            "phone": mask_msisdn(self.facts.msisdn),
            "status": self.status.value if self.status else None,
            "result_code": self.result_code,
            "confirmations_delivered": self.confirmations_delivered,
            "detail": self.detail,
            "notice": DEMO_NOTICE,
        }


@dataclass
class _Delivery:
    status: int | None = None
    answer: Any = None
    error: str | None = None


class C2BDesk:
    def __init__(
        self,
        settings: SimulatorSettings,
        *,
        now: Callable[[], datetime],
        http: Callable[[], httpx.AsyncClient | None],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
    ) -> None:
        self.settings = settings
        self._now = now
        self._http = http
        self._spawn = spawn
        self._registrations: dict[str, Registration] = {}
        self._pull_callbacks: dict[str, str] = {}
        self._payments: OrderedDict[str, C2BPayment] = OrderedDict()
        self._balances_kes: dict[str, int] = {}
        self._qr_codes: OrderedDict[str, str] = OrderedDict()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def reset(self) -> None:
        self._registrations.clear()
        self._pull_callbacks.clear()
        self._payments.clear()
        self._balances_kes.clear()
        self._qr_codes.clear()
        self._log.clear()

    def log(self) -> list[dict[str, Any]]:
        return list(self._log)

    # Register URL (§6) -------------------------------------------------------------------------------
    def register(self, urls: UrlRegistration, version: str) -> DarajaError | None:
        """Store the URLs, or refuse a second registration when production's one-time rule is on."""
        if self.settings.c2b_register_once and urls.shortcode in self._registrations:
            return URLS_ALREADY_REGISTERED
        self._registrations[urls.shortcode] = Registration(urls=urls, version=version)
        return None

    # Payments ----------------------------------------------------------------------------------------
    def new_payment(
        self,
        *,
        shortcode: str,
        transaction_type: str,
        amount_kes: int,
        msisdn: str,
        bill_ref: str,
        originator_conversation_id: str | None = None,
    ) -> C2BPayment:
        paid_at = self._now()
        self._forget_before(paid_at - PULL_RETENTION)
        trans_id = new_receipt_number(paid_at)
        while trans_id in self._payments:
            trans_id = new_receipt_number(paid_at)
        payment = C2BPayment(
            facts=C2BPaymentFacts(
                trans_id=trans_id,
                transaction_type=transaction_type,
                paid_at=paid_at,
                amount_kes=amount_kes,
                shortcode=shortcode,
                bill_ref=bill_ref,
                msisdn=msisdn,
            ),
            originator_conversation_id=originator_conversation_id,
            confirmation_copies=c2b_confirmation_copies(msisdn),
        )
        self._payments[trans_id] = payment
        return payment

    def _forget_before(self, oldest_kept: datetime) -> None:
        while self._payments:
            first = next(iter(self._payments.values()))
            if first.facts.paid_at >= oldest_kept:
                return
            self._payments.popitem(last=False)

    def settle_later(self, payment: C2BPayment, delay_s: float) -> None:
        """Daraja's simulate answers at once; the customer's payment goes through a little later."""

        async def later() -> None:
            await asyncio.sleep(delay_s)
            await self.settle(payment)

        self._spawn(later(), f"sim-c2b:{payment.facts.trans_id}")

    async def settle(self, payment: C2BPayment) -> None:
        """Validate (if on), then confirm: the whole life of one payment, logged at its end."""
        await self._go_through(payment)
        self._log_payment(payment)

    async def _go_through(self, payment: C2BPayment) -> None:
        registration = self._registrations.get(payment.facts.shortcode)
        if registration is None:
            # §6: with no URLs registered M-Pesa completes the payment and tells nobody.
            self._complete(payment)
            payment.detail = "completed; no URLs registered for this shortcode, nothing sent"
            return
        third_party_trans_id = ""
        if self.settings.c2b_validation:
            verdict = await self._validate(payment, registration)
            if verdict is None:
                # §6: an unreachable or silent ValidationURL leaves it to the registered ResponseType.
                if registration.urls.response_type == "Cancelled":
                    payment.status = C2BStatus.CANCELLED
                    payment.detail = "no usable validation answer and ResponseType Cancelled; no confirmation"
                    return
            elif not verdict.accepted:
                payment.status, payment.result_code = C2BStatus.REJECTED, verdict.result_code
                payment.detail = f"rejected by the ValidationURL ({verdict.result_code}); no confirmation"
                return
            else:
                third_party_trans_id = verdict.third_party_trans_id
        await self._confirm(payment, registration, third_party_trans_id)

    async def _confirm(
        self, payment: C2BPayment, registration: Registration, third_party_trans_id: str
    ) -> None:
        body = c2b_body(
            payment.facts,
            version=registration.version,
            org_balance_kes=self._complete(payment),
            third_party_trans_id=third_party_trans_id,
        )
        for _ in range(payment.confirmation_copies):
            delivery = await self._post(
                "confirmation",
                payment,
                registration.urls.confirmation_url,
                body,
                self.settings.callback_timeout_s,
            )
            if delivery.error is None:
                payment.confirmations_delivered += 1
        payment.detail = (
            "completed; confirmation withheld (scenario: only Pull Transactions can tell)"
            if payment.confirmation_copies == 0
            else f"completed; confirmation sent {payment.confirmation_copies}×"
        )

    def _complete(self, payment: C2BPayment) -> int:
        shortcode = payment.facts.shortcode
        self._balances_kes[shortcode] = self._balances_kes.get(shortcode, 0) + payment.facts.amount_kes
        payment.status = C2BStatus.COMPLETED
        return self._balances_kes[shortcode]

    async def _validate(self, payment: C2BPayment, registration: Registration) -> ValidationVerdict | None:
        body = c2b_body(payment.facts, version=registration.version)
        delivery = await self._post(
            "validation",
            payment,
            registration.urls.validation_url,
            body,
            self.settings.c2b_validation_timeout_s,
        )
        if delivery.error is not None or delivery.status != 200:
            return None
        return read_validation_answer(delivery.answer)

    async def _post(
        self, kind: str, payment: C2BPayment, url: str, body: dict[str, str], timeout_s: float
    ) -> _Delivery:
        """POST once, never retried; the log gets the redacted URL and the masked number (§6)."""
        delivery = _Delivery()
        http = self._http()
        try:
            if http is None:
                raise RuntimeError("simulator not started")
            answer = await http.post(url, json=body, headers=CALLBACK_HEADERS_BASE, timeout=timeout_s)
        except (httpx.HTTPError, RuntimeError) as problem:
            delivery.error = (
                f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
            )
        else:
            delivery.status = answer.status_code
            try:
                delivery.answer = answer.json()
            except ValueError:
                delivery.answer = None
        self._log.append(
            {
                "time": self._now().isoformat(),
                "kind": kind,
                "trans_id": payment.facts.trans_id,
                "shortcode": payment.facts.shortcode,
                "url": redact_url(url),
                "body": body_for_log(body, payment.facts.msisdn),
                "status": delivery.status,
                "answer": delivery.answer,
                "error": delivery.error,
                "notice": DEMO_NOTICE,
            }
        )
        logger.info(
            "%s: C2B %s %s to %s: %s",
            DEMO_NOTICE,
            kind,
            payment.facts.trans_id,
            redact_url(url),
            delivery.error or f"HTTP {delivery.status}",
        )
        return delivery

    def _log_payment(self, payment: C2BPayment) -> None:
        self._log.append(
            {
                "time": self._now().isoformat(),
                "kind": "payment",
                "trans_id": payment.facts.trans_id,
                "shortcode": payment.facts.shortcode,
                "phone": mask_msisdn(payment.facts.msisdn),
                "amount_kes": payment.facts.amount_kes,
                "status": payment.status.value if payment.status else None,
                "result_code": payment.result_code,
                "detail": payment.detail,
                "originator_conversation_id": payment.originator_conversation_id,
                "notice": DEMO_NOTICE,
            }
        )
        logger.info("%s: C2B payment %s: %s", DEMO_NOTICE, payment.facts.trans_id, payment.detail)

    # Dynamic QR (§6b) --------------------------------------------------------------------------------
    def remember_qr(self, payment: QrPayment) -> str:
        content = qr_content(payment)
        self._qr_codes[payment.request_id] = content
        while len(self._qr_codes) > QR_KEPT:
            self._qr_codes.popitem(last=False)
        return content

    def read_qr(self, id_or_content: str) -> QrPayment:
        """What a scanned QR asks for: by the RequestID it was generated with, or by its content."""
        return parse_qr_content(self._qr_codes.get(id_or_content, id_or_content))

    # Pull Transactions (§6) --------------------------------------------------------------------------
    def pull_register(self, shortcode: str, callback_url: str) -> bool:
        """True for a new registration, False when the shortcode was registered already."""
        new = shortcode not in self._pull_callbacks
        self._pull_callbacks.setdefault(shortcode, callback_url)
        return new

    def pull(self, query: PullQuery) -> list[dict[str, Any]] | DarajaError:
        if query.shortcode not in self._pull_callbacks:
            return PULL_NOT_REGISTERED
        oldest = self._now() - PULL_RETENTION
        found = [
            payment
            for payment in self._payments.values()
            if payment.facts.shortcode == query.shortcode
            and payment.status is C2BStatus.COMPLETED
            and max(query.start, oldest) <= payment.facts.paid_at <= query.end
        ]
        return [_pull_row(payment) for payment in found[query.offset : query.offset + PULL_PAGE_SIZE]]


def _pull_row(payment: C2BPayment) -> dict[str, Any]:
    """One row as the Pull Transactions sample shows it: lower-case keys, `msisdn` a number (§6)."""
    facts = payment.facts
    return {
        "transactionId": facts.trans_id,
        # The sample's "Z" read as UTC; whether Daraja means UTC or Nairobi time is unconfirmed.
        "trxDate": facts.paid_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "msisdn": int(facts.msisdn),
        "sender": CUSTOMER_FIRST_NAME,
        "transactiontype": "c2b-pay-bill-debit"
        if facts.transaction_type == PAY_BILL
        else "c2b-buy-goods-debit",
        "billreference": facts.bill_ref,
        "amount": f"{facts.amount_kes}.00",
        "organizationname": DEMO_NOTICE,
    }
