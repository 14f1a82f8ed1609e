"""The till's HTTP client for the relay (docs/architecture.md "Relay HTTP contract"), on httpx with the
till's Bearer key. The relay's tests pin the same JSON from the other side.

Errors are split by what the engine does next: RelayUnavailable (network, timeout, 5xx: retry later, ask
Daraja meanwhile), RelayRefused (401/403: the key is wrong, a diagnostics finding), RelayConflict (409:
a registration that disagrees with an earlier one), RelayProtocolError (an answer that is not the contract).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

MAX_WAIT_S = 30.0  # the relay's bound on ?wait=


class RelayError(Exception):
    pass


class RelayUnavailable(RelayError):
    pass


class RelayRefused(RelayError):
    pass


class RelayConflict(RelayError):
    pass


class RelayProtocolError(RelayError):
    pass


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class RelayPayment:
    order_id: str
    checkout_request_id: str
    status: str  # "pending" | "completed" | "failed"
    receipt: str | None
    result_code: str | None
    reason: str
    amount_kes: int | None
    paid_amount_kes: int | None
    anomaly: str | None
    registered_at: datetime | None
    settled_at: datetime | None

    @classmethod
    def from_json(cls, data: Any) -> RelayPayment:
        if not isinstance(data, dict) or "status" not in data:
            raise RelayProtocolError("the relay's payment answer has no status")
        code = data.get("result_code")
        return cls(
            order_id=str(data.get("order_id") or ""),
            checkout_request_id=str(data.get("checkout_request_id") or ""),
            status=str(data["status"]),
            receipt=(str(data.get("transactionId") or "").strip() or None),
            result_code=None if code is None or code == "" else str(code),
            reason=str(data.get("reason") or ""),
            amount_kes=data.get("amount_kes"),
            paid_amount_kes=data.get("paid_amount_kes"),
            anomaly=data.get("anomaly") or None,
            registered_at=_parse_time(data.get("registered_at")),
            settled_at=_parse_time(data.get("settled_at")),
        )


@dataclass(frozen=True)
class FeedItem:
    seq: int
    kind: str  # "result" | "anomaly"
    payment: RelayPayment


@dataclass(frozen=True)
class RelayReceipt:
    receipt: str
    amount_kes: int | None
    checkout_request_id: str | None
    order_id: str | None
    transaction_date: datetime | None
    result_code: str | None


@dataclass(frozen=True)
class RelayHealth:
    ok: bool
    server_date: datetime | None  # the HTTP Date header, for the clock-skew check


class RelayClient:
    def __init__(
        self, base_url: str, till_key: str, http: httpx.AsyncClient, *, timeout_s: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = till_key
        self._http = http
        self._timeout_s = timeout_s

    def __repr__(self) -> str:  # the key never appears in a repr or a log
        return f"RelayClient({self.base_url!r})"

    async def _request(
        self, method: str, path: str, *, wait_s: float = 0.0, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._key}"} if authenticated else {}
        timeout = httpx.Timeout(self._timeout_s + wait_s, connect=self._timeout_s)
        try:
            response = await self._http.request(
                method, self.base_url + path, headers=headers, timeout=timeout, **kwargs
            )
        except httpx.HTTPError as error:
            raise RelayUnavailable(f"relay not reachable: {type(error).__name__}") from error
        if response.status_code in (401, 403):
            raise RelayRefused(f"the relay refused this till's key (HTTP {response.status_code})")
        if response.status_code >= 500:
            raise RelayUnavailable(f"relay error HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise RelayProtocolError(
                f"the relay answered HTTP {response.status_code} without JSON"
            ) from error

    async def till_info(self) -> tuple[str, str]:
        """(till name, callback path) for this key."""
        response = await self._request("GET", "/api/v1/till")
        data = self._json(response)
        if response.status_code != 200 or not isinstance(data, dict) or "callback_path" not in data:
            raise RelayProtocolError(f"unexpected /api/v1/till answer (HTTP {response.status_code})")
        return str(data.get("name", "")), str(data["callback_path"])

    async def register(
        self, *, order_id: str, checkout_request_id: str, amount_kes: int, phone: str
    ) -> RelayPayment:
        response = await self._request(
            "POST",
            "/api/v1/payments",
            json={
                "order_id": order_id,
                "checkout_request_id": checkout_request_id,
                "amount_kes": amount_kes,
                "phone": phone,
            },
        )
        if response.status_code == 409:
            raise RelayConflict(f"the relay holds a different registration for {checkout_request_id}")
        if response.status_code not in (200, 201):
            raise RelayProtocolError(f"registration answered HTTP {response.status_code}")
        return RelayPayment.from_json(self._json(response))

    async def status(self, order_id: str, *, wait_s: float = 0.0) -> RelayPayment | None:
        """The payment's status; with wait_s > 0 a long-poll that answers when it leaves pending.
        None when the relay has no such order for this till."""
        wait = max(0.0, min(wait_s, MAX_WAIT_S))
        params = {"wait": f"{wait:g}"} if wait > 0 else {}
        response = await self._request(
            "GET", f"/api/v1/payments/{order_id}/status", wait_s=wait, params=params
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RelayProtocolError(f"status answered HTTP {response.status_code}")
        return RelayPayment.from_json(self._json(response))

    async def results(
        self, *, after: int, wait_s: float = 0.0, limit: int = 100
    ) -> tuple[list[FeedItem], int]:
        wait = max(0.0, min(wait_s, MAX_WAIT_S))
        params: dict[str, str] = {"after": str(after), "limit": str(limit)}
        if wait > 0:
            params["wait"] = f"{wait:g}"
        response = await self._request("GET", "/api/v1/results", wait_s=wait, params=params)
        data = self._json(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise RelayProtocolError(f"results answered HTTP {response.status_code}")
        items = [
            FeedItem(
                seq=int(item["seq"]),
                kind=str(item.get("kind", "result")),
                payment=RelayPayment.from_json(item),
            )
            for item in data.get("items", [])
        ]
        next_after = int(data.get("next_after", max([after, *[i.seq for i in items]])))
        return items, next_after

    async def receipt(self, receipt: str) -> RelayReceipt | None:
        response = await self._request("GET", f"/api/v1/receipts/{receipt}")
        if response.status_code == 404:
            return None
        data = self._json(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise RelayProtocolError(f"receipt look-up answered HTTP {response.status_code}")
        amount = data.get("amount_kes")
        code = data.get("result_code")
        return RelayReceipt(
            receipt=str(data.get("receipt") or receipt),
            amount_kes=int(amount)
            if isinstance(amount, int | float) and not isinstance(amount, bool)
            else None,
            checkout_request_id=data.get("checkout_request_id"),
            order_id=data.get("order_id"),
            transaction_date=_parse_time(data.get("transaction_date")),
            result_code=None if code is None else str(code),
        )

    async def selftest(self, checkout_request_id: str) -> datetime | None:
        response = await self._request("GET", f"/api/v1/selftest/{checkout_request_id}")
        if response.status_code == 404:
            return None
        data = self._json(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise RelayProtocolError(f"self-test look-up answered HTTP {response.status_code}")
        return _parse_time(data.get("received_at"))

    async def health(self) -> RelayHealth:
        response = await self._request("GET", "/healthz", authenticated=False)
        date_header = response.headers.get("date")
        server_date = None
        if date_header:
            from email.utils import parsedate_to_datetime

            try:
                server_date = parsedate_to_datetime(date_header)
            except (TypeError, ValueError):
                server_date = None
        return RelayHealth(ok=response.status_code == 200, server_date=server_date)
