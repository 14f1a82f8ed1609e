"""Typed Daraja failures. Each keeps Daraja's own `errorCode`, `errorMessage` and `requestId`
(docs/daraja.md §2b) so the till can show and log exactly what Safaricom said.

For an STK Push the split that matters is: PushOutcomeUnknown means the prompt may be on the
customer's phone (never send it again); every other error from `stk_push` means no push was accepted.
"""

from __future__ import annotations

from daraja_core.mobile_networks import Network
from daraja_core.phones import InvalidPhone


class DarajaError(Exception):
    def __init__(
        self,
        error_code: str | None,
        error_message: str,
        request_id: str | None = None,
        http_status: int | None = None,
        *,
        detail: str | None = None,
    ) -> None:
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.http_status = http_status
        #: Our explanation for people; Daraja's own words stay in error_message.
        self.detail = detail
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [self.detail or self.error_message or "Daraja error"]
        if self.detail and self.error_message:
            parts.append(f"Daraja said: {self.error_message}")
        facts = []
        if self.error_code:
            facts.append(f"code {self.error_code}")
        if self.http_status is not None:
            facts.append(f"HTTP {self.http_status}")
        if self.request_id:
            facts.append(f"request {self.request_id}")
        text = ". ".join(parts)
        return f"{text} ({', '.join(facts)})" if facts else text


class AuthenticationFailed(DarajaError):
    """Daraja refused the consumer key/secret (§1)."""


class InvalidAccessToken(DarajaError):
    """Daraja refused the bearer token even after one refresh (§1: 404.001.03, 400.003.01, 401.002.01)."""


class DarajaUnreachable(DarajaError):
    """No answer from Daraja: connection refused, timeout, dropped connection, or a 5xx with no result."""


class RateLimited(DarajaError):
    """Spike arrest / quota (§2b 500.003.02, 500.003.03; HTTP 429) after backing off."""


class PushRejected(DarajaError):
    """Daraja said no to the STK Push, or it never left the till: safe to fix and charge again."""


class PushNotSent(PushRejected, DarajaUnreachable):
    """The connection to Daraja failed before the request was sent: nothing reached Safaricom."""


class PushRateLimited(PushRejected, RateLimited):
    """The gateway's spike-arrest/quota policy refused the push before it reached M-Pesa."""


class PushOutcomeUnknown(DarajaError):
    """The push was sent but no clear answer came back (timeout, dropped connection, 5xx).

    The prompt may be on the customer's phone: it is never sent again; settle it by callback, STK Query
    or the customer's SMS.
    """


class InvalidPaymentRequest(ValueError):
    """Local validation refused the charge before any request; the message says what is wrong."""


class InvalidPaymentPhone(InvalidPaymentRequest, InvalidPhone):
    """The phone number cannot be normalised (catchable as either kind)."""


class PhoneNotMpesa(InvalidPaymentPhone):
    """A Kenyan mobile number on a network STK Push cannot reach (docs/daraja.md §2c); no request was sent.

    `network` lets the till word its own message (try a Safaricom number, or take cash).
    """

    def __init__(self, message: str, network: Network) -> None:
        super().__init__(message)
        self.network = network
