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
from typing import Any, TypeVar

import httpx
import msgspec

from daraja_core.contract import (
    C2bClaim,
    C2bPayment,
    C2bRelease,
    ContractError,
    FeedItem,
    FeedKind,
    Orphan,
    OrphanPage,
    OrphanSearch,
    Payment,
    PaymentRegistration,
    ReceiptAnswer,
    SelftestSeen,
    TillInfo,
    decode,
    wire_time,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

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


class C2bTaken(RelayConflict):
    """409 on a C2B claim: another sale (`claimed_by`, maybe on another till of the shop) has it."""

    def __init__(self, trans_id: str, claimed_by: str) -> None:
        super().__init__(f"C2B payment {trans_id} is already claimed by sale {claimed_by}")
        self.claimed_by = claimed_by


class _ClaimRefusal(msgspec.Struct, frozen=True):
    extra: dict[str, str]


#: The relay's payment answer (registration, status), typed by the contract.
RelayPayment = Payment


class _RawFeedPage(msgspec.Struct, frozen=True):
    """`FeedPage` with its entries undecoded, so an entry of an unknown kind can be skipped."""

    items: list[msgspec.Raw]
    next_after: int


class _KindOnly(msgspec.Struct, frozen=True):
    kind: str


_KNOWN_FEED_KINDS = frozenset(FeedKind)


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
    def _decode(response: httpx.Response, shape: type[T], what: str) -> T:
        if response.status_code != 200:
            raise RelayProtocolError(f"{what} answered HTTP {response.status_code}")
        try:
            return decode(response.content, shape)
        except ContractError as error:
            raise RelayProtocolError(f"the relay's {what} answer is not the contract's: {error}") from error

    async def till_info(self) -> tuple[str, str]:
        """(till name, callback path) for this key."""
        info = await self.till_details()
        return info.name, info.callback_path

    async def till_details(self) -> TillInfo:
        """This key's till, with its shop and the paths of the shop's C2B URLs (None without a shop)."""
        return self._decode(await self._request("GET", "/api/v1/till"), TillInfo, "/api/v1/till")

    async def register(
        self, *, order_id: str, checkout_request_id: str, amount_kes: int, phone: str
    ) -> Payment:
        body = PaymentRegistration(order_id, checkout_request_id, amount_kes, phone)
        response = await self._request(
            "POST",
            "/api/v1/payments",
            json=msgspec.to_builtins(body),
        )
        if response.status_code == 409:
            raise RelayConflict(f"the relay holds a different registration for {checkout_request_id}")
        return self._decode(response, Payment, "registration")

    async def status(self, order_id: str, *, wait_s: float = 0.0) -> Payment | None:
        """The payment's status; with wait_s > 0 a long-poll that answers when it leaves pending.
        None when the relay has no such order for this till."""
        wait = max(0.0, min(wait_s, MAX_WAIT_S))
        params = {"wait": f"{wait:g}"} if wait > 0 else {}
        response = await self._request(
            "GET", f"/api/v1/payments/{order_id}/status", wait_s=wait, params=params
        )
        if response.status_code == 404:
            return None
        return self._decode(response, Payment, "status")

    async def results(
        self, *, after: int, wait_s: float = 0.0, limit: int = 100
    ) -> tuple[list[FeedItem], int]:
        """A page of the till's feed after `after`, and the cursor for the next page.

        An entry of a kind this till does not know yet (a newer relay) is skipped, not an error: the
        cursor still moves past it, so one new kind never stalls the feed.
        """
        wait = max(0.0, min(wait_s, MAX_WAIT_S))
        params: dict[str, str] = {"after": str(after), "limit": str(limit)}
        if wait > 0:
            params["wait"] = f"{wait:g}"
        response = await self._request("GET", "/api/v1/results", wait_s=wait, params=params)
        envelope = self._decode(response, _RawFeedPage, "results")
        items: list[FeedItem] = []
        for raw in envelope.items:
            try:
                kind = msgspec.json.decode(raw, type=_KindOnly).kind
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                raise RelayProtocolError(f"the relay's feed entry has no kind: {error}") from error
            if kind not in _KNOWN_FEED_KINDS:
                log.warning("skipping a relay feed entry of unknown kind %r", kind)
                continue
            try:
                items.append(decode(raw, FeedItem))
            except ContractError as error:
                raise RelayProtocolError(f"the relay's feed entry is not the contract's: {error}") from error
        return items, envelope.next_after

    async def receipt(self, receipt: str) -> ReceiptAnswer | None:
        response = await self._request("GET", f"/api/v1/receipts/{receipt}")
        if response.status_code == 404:
            return None
        return self._decode(response, ReceiptAnswer, "receipt look-up")

    async def orphans(
        self, *, amount_kes: int, phone: str, since: datetime, until: datetime
    ) -> tuple[list[Orphan], bool]:
        """Results on this till's own callback path that it never registered, of this amount and phone,
        received in [since, until] (oldest first), and whether the relay held more than it sent."""
        body = OrphanSearch(amount_kes, phone, wire_time(since) or "", wire_time(until) or "")
        response = await self._request("POST", "/api/v1/orphans", json=msgspec.to_builtins(body))
        page = self._decode(response, OrphanPage, "orphan search")
        return page.items, page.more

    async def claim_c2b(self, trans_id: str, order_id: str) -> C2bPayment | None:
        """Claim a C2B payment of the shop for this sale; None when the shop has no such payment (404).
        C2bTaken when another sale has it."""
        response = await self._request(
            "POST", f"/api/v1/c2b/{trans_id}/claim", json=msgspec.to_builtins(C2bClaim(order_id))
        )
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            try:
                holder = msgspec.json.decode(response.content, type=_ClaimRefusal).extra["claimed_by"]
            except (msgspec.ValidationError, msgspec.DecodeError, KeyError) as error:
                raise RelayProtocolError(
                    f"the relay's claim refusal is not the contract's: {error}"
                ) from error
            raise C2bTaken(trans_id, holder)
        return self._decode(response, C2bPayment, "C2B claim")

    async def release_c2b(self, trans_id: str, released_by: str = "") -> C2bPayment | None:
        """Give a claimed C2B payment back to the shop; None when the shop has no such payment."""
        response = await self._request(
            "POST", f"/api/v1/c2b/{trans_id}/release", json=msgspec.to_builtins(C2bRelease(released_by))
        )
        if response.status_code == 404:
            return None
        return self._decode(response, C2bPayment, "C2B release")

    async def selftest(self, checkout_request_id: str) -> datetime | None:
        response = await self._request("GET", f"/api/v1/selftest/{checkout_request_id}")
        if response.status_code == 404:
            return None
        return self._decode(response, SelftestSeen, "self-test look-up").received_time

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
