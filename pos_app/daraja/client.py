"""Async Daraja client for the till: OAuth, STK Push, STK Query, Dynamic QR (docs/daraja.md §1–§3, §6b).

Guarantees:
- One cached access token, reused until shortly before it expires; concurrent callers share one
  refresh (§1, §9 item 4).
- An STK Push is sent at most once per call, except after an invalid-token answer, which the API
  gateway gives before the request reaches M-Pesa. Anything that leaves the outcome open raises
  PushOutcomeUnknown and is never retried: Daraja does not deduplicate pushes (§2), so a resend
  could charge the customer twice.
- "Still processing" query answers are pending, never failures (§3, §9 item 5).
- Secrets, tokens and Passwords are never logged; phones are masked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from daraja_core.password import nairobi_timestamp, stk_password
from daraja_core.phones import InvalidPhone, NotMpesa, mask_msisdn, mpesa_msisdn
from daraja_core.results import QUERY_PENDING_CODES, normalise_code
from pos_app.daraja.config import DarajaConfig
from pos_app.daraja.errors import (
    AuthenticationFailed,
    DarajaError,
    DarajaUnreachable,
    InvalidAccessToken,
    InvalidPaymentPhone,
    InvalidPaymentRequest,
    PhoneNotMpesa,
    PushNotSent,
    PushOutcomeUnknown,
    PushRateLimited,
    PushRejected,
    RateLimited,
)
from pos_app.daraja.qr_request import qr_request_body
from pos_app.daraja.replies import (
    AUTH_REFUSED,
    MERCHANT_ERROR_CODE,
    PROMPT_MAY_BE_ON_PHONE,
    DynamicQr,
    PushAccepted,
    QueryAnswer,
    Reply,
    definite_merchant_refusal,
    dynamic_qr_of,
    parse_expires_in,
    transport_error,
)

log = logging.getLogger(__name__)

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
QR_PATH = "/mpesa/qrcode/v1/generate"

ACCOUNT_REFERENCE_MAX = 12  # §2: documented maximum, shown in the prompt
TRANSACTION_DESC_MAX = 13  # §2: documented maximum; empty gives `Invalid Remarks` live
DEFAULT_ACCOUNT_REFERENCE = "Sale"
DEFAULT_DESCRIPTION = "Payment"


class DarajaClient:
    def __init__(
        self,
        config: DarajaConfig,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        token_refresh_margin_s: float = 60.0,
        rate_limit_tries: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 16.0,
    ) -> None:
        self.config = config
        self._http = http
        self._now = now
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter
        self._margin_s = token_refresh_margin_s
        self._rate_limit_tries = rate_limit_tries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._token: str | None = None
        self._token_good_until = 0.0
        self._refresh: asyncio.Task[str] | None = None

    # ---- OAuth (§1) -------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The cached token, or one fresh token shared by every concurrent caller."""
        if self._token is not None and self._monotonic() < self._token_good_until:
            return self._token
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._fetch_token())
            # A refresh whose callers were all cancelled must not warn "exception never retrieved".
            self._refresh.add_done_callback(lambda task: task.cancelled() or task.exception())
        # shield: one caller giving up must not cancel the refresh the others wait on.
        return await asyncio.shield(self._refresh)

    def invalidate_token(self, token: str) -> None:
        """Forget `token` after Daraja refused it, unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> str:
        base = self.config.base_url
        try:
            response = await self._http.get(
                base + OAUTH_PATH,
                params={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(self.config.consumer_key, self.config.consumer_secret),
            )
        except httpx.TransportError as exc:
            raise transport_error(
                DarajaUnreachable, exc, f"Could not reach Daraja at {base} for an access token"
            ) from exc
        reply = Reply.of(response)
        if reply.status == 200 and isinstance(reply.body, dict):
            token = reply.body.get("access_token")
            if isinstance(token, str) and token.strip():
                expires_in = parse_expires_in(reply.body.get("expires_in"))
                self._token = token.strip()
                self._token_good_until = self._monotonic() + max(expires_in - self._margin_s, expires_in / 2)
                log.info("Daraja access token obtained, valid for %d s", expires_in)
                return self._token
        if reply.rate_limited:
            raise reply.error(RateLimited, "Daraja is limiting requests; try again in a minute")
        if reply.status in (400, 401, 403):
            # §1: bad key/secret gives HTTP 400 with an empty body.
            raise reply.error(AuthenticationFailed, AUTH_REFUSED)
        if reply.status >= 500:
            raise reply.error(DarajaUnreachable, "Daraja's token service failed; try again shortly")
        raise reply.error(DarajaError, f"Unexpected answer from Daraja's token service (HTTP {reply.status})")

    async def post_authorised(self, path: str, body: dict[str, Any], what: str) -> Reply:
        """POST a request that only reads or sets up (C2B register, Pull): safe to send again with a
        fresh token after the gateway refused the first (§1). DarajaUnreachable when nothing answered."""
        for attempt in range(2):
            token = await self.access_token()
            try:
                response = await self._http.post(
                    self.config.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:
                raise transport_error(DarajaUnreachable, exc, f"No answer from Daraja to {what}") from exc
            reply = Reply.of(response, token)
            if not reply.invalid_token or attempt:
                return reply
            self.invalidate_token(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- STK Push (§2) ----------------------------------------------------------------------

    def prepare_stk_push(
        self, *, amount_kes: int, phone: str, account_reference: str, description: str, callback_url: str
    ) -> dict[str, Any]:
        """The STK Push body, validated locally; raises InvalidPaymentRequest naming the problem."""
        config = self.config
        if isinstance(amount_kes, bool) or not isinstance(amount_kes, int):
            # §2: Daraja takes whole shillings; decimals give `Invalid Amount` (§9 item 8).
            raise InvalidPaymentRequest("The amount must be a whole number of shillings.")
        if amount_kes < 1:
            raise InvalidPaymentRequest("The amount must be at least KES 1.")
        if amount_kes > config.max_amount_kes:
            raise InvalidPaymentRequest(f"The amount is above the KES {config.max_amount_kes:,} limit.")
        try:
            # §2c: an Airtel, Telkom or Equitel number is a Kenyan mobile no push can reach.
            msisdn = mpesa_msisdn(phone)
        except NotMpesa as exc:
            raise PhoneNotMpesa(str(exc), exc.network) from exc
        except InvalidPhone as exc:
            raise InvalidPaymentPhone(str(exc)) from exc
        url = (callback_url or "").strip()
        if not url:
            raise InvalidPaymentRequest("The callback URL is not set.")
        if not url.lower().startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
            # §2: spaces and placeholders give `400.002.02 Invalid CallBackURL`.
            raise InvalidPaymentRequest("The callback URL must be an http(s) address without spaces.")
        party_b = config.party_b
        if party_b is None:
            raise InvalidPaymentRequest(
                "Buy Goods needs the till number (MPESA_TILL_NUMBER); the shortcode is the store number."
            )
        timestamp = nairobi_timestamp(self._now())
        return {
            "BusinessShortCode": config.shortcode,
            "Password": stk_password(config.shortcode, config.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": config.transaction_type,
            "Amount": amount_kes,
            "PartyA": msisdn,
            "PartyB": party_b,
            "PhoneNumber": msisdn,
            "CallBackURL": url,
            # §2: AccountReference ≤ 12 (longer prompts fail with 1025); TransactionDesc required.
            "AccountReference": (account_reference or "").strip()[:ACCOUNT_REFERENCE_MAX]
            or DEFAULT_ACCOUNT_REFERENCE,
            "TransactionDesc": (description or "").strip()[:TRANSACTION_DESC_MAX] or DEFAULT_DESCRIPTION,
        }

    async def stk_push(
        self, *, amount_kes: int, phone: str, account_reference: str, description: str, callback_url: str
    ) -> PushAccepted:
        """Ask Daraja to put a PIN prompt on the customer's phone.

        Raises InvalidPaymentRequest before any request; PushOutcomeUnknown when the prompt may be on
        the phone (never sent again); any other DarajaError means no push was accepted.
        """
        body = self.prepare_stk_push(
            amount_kes=amount_kes,
            phone=phone,
            account_reference=account_reference,
            description=description,
            callback_url=callback_url,
        )
        return await self._send_stk_push(body)

    async def _send_stk_push(self, body: dict[str, Any]) -> PushAccepted:
        """Send a prepared body (no local validation: tests use it to provoke Daraja's own refusals)."""
        description = f"KES {body.get('Amount')} to {mask_msisdn(str(body.get('PhoneNumber', '')))}"
        token = await self.access_token()
        reply = await self._post_push(body, token)
        if reply.invalid_token:
            # The gateway (Apigee, §1) checks the token before the request reaches M-Pesa, so no
            # prompt exists: refreshing the token and sending once more cannot charge twice.
            log.warning(
                "STK Push %s: access token refused (%s); refreshing once", description, reply.error_code
            )
            self.invalidate_token(token)
            token = await self.access_token()
            reply = await self._post_push(body, token)
        try:
            accepted = self._push_result(reply)
        except DarajaError as exc:
            log.warning("STK Push %s failed: %s", description, exc)
            raise
        log.info("STK Push %s accepted: %s", description, accepted.checkout_request_id)
        return accepted

    async def _post_push(self, body: dict[str, Any], token: str) -> Reply:
        try:
            response = await self._http.post(
                self.config.base_url + STK_PUSH_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            # The connection was never made, so no byte of the request left the till.
            raise transport_error(
                PushNotSent,
                exc,
                "Could not reach Daraja; the payment request was not sent. Check the connection",
            ) from exc
        except httpx.TransportError as exc:
            # Read timeout, dropped connection, half-written request: the prompt may exist.
            raise transport_error(PushOutcomeUnknown, exc, PROMPT_MAY_BE_ON_PHONE) from exc
        return Reply.of(response, token)

    def _push_result(self, reply: Reply) -> PushAccepted:
        body = reply.body
        if reply.status == 200:
            if isinstance(body, dict):
                response_code = normalise_code(body.get("ResponseCode", ""))
                checkout_id = str(body.get("CheckoutRequestID") or "").strip()
                if response_code == "0" and checkout_id:
                    return PushAccepted(
                        merchant_request_id=str(body.get("MerchantRequestID") or "").strip(),
                        checkout_request_id=checkout_id,
                        customer_message=str(body.get("CustomerMessage") or ""),
                        response_description=str(body.get("ResponseDescription") or ""),
                    )
                if response_code not in ("", "0"):
                    raise PushRejected(
                        response_code, str(body.get("ResponseDescription") or ""), http_status=200
                    )
            # A 200 we cannot read may still be an accepted push.
            raise reply.error(PushOutcomeUnknown, PROMPT_MAY_BE_ON_PHONE)
        if reply.rate_limited:
            # Spike arrest / quota are gateway policies applied before M-Pesa sees the request (§2b).
            raise reply.error(
                PushRateLimited, "Daraja is limiting requests; wait a minute, then charge again"
            )
        if reply.invalid_token:
            raise reply.error(
                PushRejected,
                "Daraja refused a fresh access token; check the environment (sandbox vs production)",
            )
        if reply.error_code == MERCHANT_ERROR_CODE:
            refusal = definite_merchant_refusal(reply.error_message)
            if refusal is not None:
                raise reply.error(PushRejected, refusal)
            raise reply.error(PushOutcomeUnknown, PROMPT_MAY_BE_ON_PHONE)
        if 400 <= reply.status < 500:
            raise reply.error(PushRejected, "Daraja refused the payment request")
        raise reply.error(PushOutcomeUnknown, PROMPT_MAY_BE_ON_PHONE)

    # ---- STK Query (§3) ---------------------------------------------------------------------

    async def stk_query(self, checkout_request_id: str) -> QueryAnswer:
        """Ask Daraja for a push's result. Raises DarajaUnreachable when there is no answer at all,
        RateLimited after backing off, InvalidAccessToken when a fresh token is refused too."""
        checkout_id = (checkout_request_id or "").strip()
        if not checkout_id:
            raise ValueError("stk_query needs a CheckoutRequestID")
        refreshed = False
        limited = 0
        while True:
            token = await self.access_token()
            reply = await self._post_query(checkout_id, token)
            if reply.invalid_token and not refreshed:
                # A query reads state, so asking again with a fresh token is always safe.
                self.invalidate_token(token)
                refreshed = True
                continue
            if reply.invalid_token:
                raise reply.error(InvalidAccessToken, "Daraja refused a fresh access token")
            if reply.rate_limited:
                limited += 1
                if limited >= self._rate_limit_tries:
                    raise reply.error(RateLimited, "Daraja is limiting STK Query requests")
                delay = self._backoff_delay(limited)
                log.info(
                    "STK Query %s rate limited (%s); retrying in %.1f s", checkout_id, reply.error_code, delay
                )
                await self._sleep(delay)
                continue
            return self._query_answer(reply)

    async def _post_query(self, checkout_id: str, token: str) -> Reply:
        config = self.config
        timestamp = nairobi_timestamp(self._now())
        body = {
            "BusinessShortCode": config.shortcode,
            "Password": stk_password(config.shortcode, config.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_id,
        }
        try:
            response = await self._http.post(
                config.base_url + STK_QUERY_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as exc:
            raise transport_error(DarajaUnreachable, exc, "No answer from Daraja to STK Query") from exc
        return Reply.of(response, token)

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        return float(ceiling / 2 + self._jitter() * ceiling / 2)

    def _query_answer(self, reply: Reply) -> QueryAnswer:
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status == 200:
            if not isinstance(reply.body, dict):
                raise reply.error(DarajaError, "Unreadable STK Query answer from Daraja")
            raw_code = body.get("ResultCode")
            desc = str(body.get("ResultDesc") or body.get("ResponseDescription") or "")
            if raw_code is None or isinstance(raw_code, bool) or not str(raw_code).strip():
                return QueryAnswer("pending", None, desc, body, reply.status)
            code = normalise_code(raw_code)
            # §3: 4999 "still under processing" while the customer has not answered.
            state: Literal["pending", "final"] = "pending" if code in QUERY_PENDING_CODES else "final"
            return QueryAnswer(state, code, desc, body, reply.status)
        if reply.error_code == MERCHANT_ERROR_CODE:
            text = reply.error_message.lower()
            if "transaction does not exist" in text:
                return QueryAnswer("not_found", None, reply.error_message, body, reply.status)
            if "wrong credentials" in text or "merchant does not exist" in text:
                # A settings problem, not "no answer yet": polling on would never end (§9 item 2).
                raise reply.error(DarajaError, definite_merchant_refusal(reply.error_message))
        if reply.status >= 500:
            # §3: "being processed" (2018), "under processing", and sporadic 500.001.1001 for known,
            # finished ids all mean "no answer yet, ask again"; so does any other server error.
            return QueryAnswer("pending", None, reply.error_message, body, reply.status)
        raise reply.error(DarajaError, "Daraja refused the STK Query")

    # ---- Dynamic QR (§6b) -------------------------------------------------------------------------

    async def dynamic_qr(
        self, *, merchant_name: str, ref_no: str, amount_kes: int, trx_code: str, cpi: str, size_px: int
    ) -> DynamicQr:
        """Ask Daraja to draw a QR code the customer scans to pay `amount_kes` (§6b). It moves no money, so
        an invalid-token answer is retried once with a fresh token. DarajaUnreachable when nothing usable came
        back; RateLimited; any other DarajaError is Daraja's refusal."""
        body = qr_request_body(
            merchant_name=merchant_name,
            ref_no=ref_no,
            amount_kes=amount_kes,
            trx_code=trx_code,
            cpi=cpi,
            size_px=size_px,
            max_amount_kes=self.config.max_amount_kes,
        )
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                response = await self._http.post(
                    self.config.base_url + QR_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:
                raise transport_error(
                    DarajaUnreachable, exc, "No answer from Daraja to the QR request"
                ) from exc
            reply = Reply.of(response, token)
            if reply.invalid_token and attempt == 1:
                self.invalidate_token(token)
                continue
            break
        qr = dynamic_qr_of(reply)
        if qr is not None:
            log.info("Dynamic QR %s: %s %s KES %d", qr.request_id, trx_code, cpi, amount_kes)
            return qr
        if reply.rate_limited:
            raise reply.error(RateLimited, "Daraja is limiting requests; try the QR code again in a minute")
        if reply.invalid_token:
            raise reply.error(InvalidAccessToken, "Daraja refused a fresh access token")
        if reply.status == 200 or reply.status >= 500:
            raise reply.error(DarajaUnreachable, "Daraja sent no QR code back")
        raise reply.error(DarajaError, "Daraja refused the QR request")
