"""The simulator's state: tokens, accepted pushes, scheduled callbacks, and the log.

Time comes from an injectable clock (aware UTC datetimes) for token expiry, "has the customer answered
yet" and spike arrest; scheduled callbacks wait real seconds with asyncio, and are cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from daraja_core.phones import mask_msisdn
from daraja_core.simulator import errors
from daraja_core.simulator.c2b import C2BDesk
from daraja_core.simulator.callbacks import (
    CALLBACK_HEADERS_BASE,
    masked_for_log,
    redact_url,
    stk_callback_body,
)
from daraja_core.simulator.errors import DarajaError
from daraja_core.simulator.identifiers import (
    checkout_request_id,
    new_access_token,
    new_merchant_request_id,
    new_receipt_number,
)
from daraja_core.simulator.scenarios import (
    NOT_PERMITTED,
    OPERATOR_DOES_NOT_EXIST,
    Delay,
    FinalResult,
    Scenario,
)
from daraja_core.simulator.settings import DEMO_NOTICE, SimulatorSettings
from daraja_core.simulator.validation import BUY_GOODS, PAYBILL, PushRequest

logger = logging.getLogger("daraja_core.simulator")

Clock = Callable[[], datetime]

LOG_LIMIT = 2000

QUERY_ACCEPTED = "The service request has been accepted successfully"
#: §3: what Daraja answers (HTTP 200) while the customer has not answered the prompt yet.
STILL_PROCESSING = FinalResult(
    "4999", "The transaction is still under processing", "The transaction is still under processing"
)


def system_clock() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~0.1 s; demo mode and the tests start many simulators in one process.
    return ssl.create_default_context()


def _callback_client(timeout_s: float) -> httpx.AsyncClient:
    # No keep-alive: callbacks are rare and each is delivered once; a kept-alive connection to an in-loop
    # uvicorn was measured answering ~44 ms late. trust_env=False: callbacks go exactly where CallBackURL
    # says, never through a proxy.
    transport = httpx.AsyncHTTPTransport(
        verify=_tls_context(), limits=httpx.Limits(max_keepalive_connections=0)
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, trust_env=False)


@dataclass
class Transaction:
    merchant_request_id: str
    checkout_request_id: str
    shortcode: str
    phone: str
    amount_kes: int
    callback_url: str
    scenario: Scenario
    result: FinalResult
    accepted_at: datetime
    result_at: datetime
    callback_delay_s: float
    receipt: str | None
    last_query_at: datetime | None = None


class SimulatorEngine:
    def __init__(self, settings: SimulatorSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.passkeys = settings.all_shortcodes()
        self._clock = clock or system_clock
        self._tokens: dict[str, datetime] = {}
        self._transactions: dict[str, Transaction] = {}
        # Bounded: demo mode may run for days; the newest entries are the ones anyone reads.
        self._requests: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._callbacks: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self.c2b = C2BDesk(settings, now=self.now, http=lambda: self._http, spawn=self._spawn)

    def now(self) -> datetime:
        return self._clock()

    @property
    def pending_callbacks(self) -> int:
        return len(self._tasks)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` in the background until it ends or the simulator stops or resets."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = _callback_client(self.settings.callback_timeout_s)
        logger.info("%s: Daraja simulator started", DEMO_NOTICE)

    async def stop(self) -> None:
        await self._cancel_callbacks()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _cancel_callbacks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def reset(self) -> None:
        """Forget pushes, C2B registrations and payments, pending callbacks and the log; tokens stay valid."""
        await self._cancel_callbacks()
        self.c2b.reset()
        self._transactions.clear()
        self._requests.clear()
        self._callbacks.clear()

    # OAuth (§1) --------------------------------------------------------------------------------------
    def credentials_match(self, key: str, secret: str) -> bool:
        return key == self.settings.consumer_key and secret == self.settings.consumer_secret

    def issue_token(self) -> str:
        if self.settings.token_invalidates_previous:
            self._tokens.clear()
        token = new_access_token()
        self._tokens[token] = self.now() + timedelta(seconds=self.settings.token_lifetime_s)
        return token

    def bearer_is_valid(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        expires_at = self._tokens.get(token.strip())
        return expires_at is not None and self.now() < expires_at

    # STK Push (§2) -----------------------------------------------------------------------------------
    def _final_result(self, request: PushRequest, scenario: Scenario) -> FinalResult:
        # §9 item 3: a till used as BusinessShortCode for Buy Goods;
        # §4a 2028: a Paybill push to a PartyB that is not the shortcode.
        if request.transaction_type == BUY_GOODS and request.party_b == request.shortcode:
            return OPERATOR_DOES_NOT_EXIST
        if request.transaction_type == PAYBILL and request.party_b != request.shortcode:
            return NOT_PERMITTED
        return scenario.result

    def _new_checkout_request_id(self, moment: datetime, phone: str) -> str:
        fraction = moment.microsecond // 1000
        for step in range(1000):
            candidate = checkout_request_id(moment, phone, fraction + step)
            if candidate not in self._transactions:
                return candidate
        raise RuntimeError("more than 1000 pushes to one phone in one second")

    def accept_push(self, request: PushRequest, scenario: Scenario) -> Transaction:
        """Record an accepted push and schedule what the customer does. Duplicates are accepted too (§2)."""
        accepted_at = self.now()
        delay_s = (
            self.settings.unreachable_delay_s
            if scenario.delay is Delay.UNREACHABLE
            else self.settings.callback_delay_s
        )
        result = self._final_result(request, scenario)
        result_at = accepted_at + timedelta(seconds=delay_s)
        transaction = Transaction(
            merchant_request_id=new_merchant_request_id(),
            checkout_request_id=self._new_checkout_request_id(accepted_at, request.phone),
            shortcode=request.shortcode,
            phone=request.phone,
            amount_kes=request.amount_kes,
            callback_url=request.callback_url,
            scenario=scenario,
            result=result,
            accepted_at=accepted_at,
            result_at=result_at,
            callback_delay_s=delay_s,
            receipt=new_receipt_number(result_at) if result.paid else None,
        )
        self._transactions[transaction.checkout_request_id] = transaction
        copies = scenario.callbacks_sent
        if copies:
            self._spawn(
                self._deliver_later(transaction, copies), f"sim-callback:{transaction.checkout_request_id}"
            )
        return transaction

    # Callbacks (§4) ----------------------------------------------------------------------------------
    def callback_body(self, transaction: Transaction) -> dict[str, Any]:
        paid = transaction.result.paid
        return stk_callback_body(
            merchant_request_id=transaction.merchant_request_id,
            checkout_request_id=transaction.checkout_request_id,
            result_code=transaction.result.code,
            result_desc=transaction.result.callback_desc,
            amount_kes=transaction.amount_kes if paid else None,
            receipt=transaction.receipt,
            transaction_date=transaction.result_at if paid else None,
            phone=transaction.phone if paid else None,
        )

    async def _deliver_later(self, transaction: Transaction, copies: int) -> None:
        await asyncio.sleep(transaction.callback_delay_s)
        for _ in range(copies):
            await self._deliver(transaction)

    async def _deliver(self, transaction: Transaction) -> None:
        """POST once; a failure is logged and never retried (§4 "Delivered once")."""
        body = self.callback_body(transaction)
        entry: dict[str, Any] = {
            "time": self.now().isoformat(),
            "url": redact_url(transaction.callback_url),
            "checkout_request_id": transaction.checkout_request_id,
            "body": masked_for_log(body),
            "status": None,
            "error": None,
            "notice": DEMO_NOTICE,
        }
        headers = {**CALLBACK_HEADERS_BASE, "Businessshortcode": transaction.shortcode}
        http = self._http
        try:
            if http is None:
                raise RuntimeError("simulator not started")
            answer = await http.post(transaction.callback_url, json=body, headers=headers)
        except (httpx.HTTPError, RuntimeError) as problem:
            entry["error"] = (
                f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
            )
            logger.warning(
                "%s: callback %s to %s failed (not retried): %s",
                DEMO_NOTICE,
                transaction.checkout_request_id,
                entry["url"],
                entry["error"],
            )
        else:
            entry["status"] = answer.status_code
            logger.info(
                "%s: callback %s (ResultCode %s) to %s answered HTTP %s",
                DEMO_NOTICE,
                transaction.checkout_request_id,
                transaction.result.code,
                entry["url"],
                answer.status_code,
            )
        self._callbacks.append(entry)

    # STK Query (§3) ----------------------------------------------------------------------------------
    def query(self, checkout_id: str) -> dict[str, str] | DarajaError:
        transaction = self._transactions.get(checkout_id)
        if transaction is None:
            return errors.TRANSACTION_DOES_NOT_EXIST
        now = self.now()
        last = transaction.last_query_at
        if last is not None and (now - last).total_seconds() < self.settings.min_query_interval_s:
            # Measured from the last answered query, so a client that polls too fast still gets answers.
            return errors.SPIKE_ARREST
        transaction.last_query_at = now
        result = transaction.result if now >= transaction.result_at else STILL_PROCESSING
        return {
            "ResponseCode": "0",
            "ResponseDescription": QUERY_ACCEPTED,
            "MerchantRequestID": transaction.merchant_request_id,
            "CheckoutRequestID": transaction.checkout_request_id,
            "ResultCode": result.code,
            "ResultDesc": result.query_desc,
        }

    def phone_of(self, checkout_id: str) -> str | None:
        transaction = self._transactions.get(checkout_id)
        return transaction.phone if transaction else None

    # Log ---------------------------------------------------------------------------------------------
    def record_request(
        self,
        method: str,
        path: str,
        status: int,
        outcome: str,
        *,
        phone: Any = None,
        checkout_request_id: str | None = None,
    ) -> None:
        self._requests.append(
            {
                "time": self.now().isoformat(),
                "method": method,
                "path": path,
                "phone": mask_msisdn(phone) if phone is not None else None,
                "status": status,
                "outcome": outcome,
                "checkout_request_id": checkout_request_id,
            }
        )
        logger.info("%s: %s %s → %s %s", DEMO_NOTICE, method, path, status, outcome)

    def log_snapshot(self) -> dict[str, Any]:
        return {
            "notice": DEMO_NOTICE,
            "requests": list(self._requests),
            "callbacks": list(self._callbacks),
            "c2b": self.c2b.log(),
        }
