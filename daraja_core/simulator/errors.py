"""Daraja's error answers: `{requestId, errorCode, errorMessage}`, all strings (docs/daraja.md §2b)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Request, Response

from daraja_core.simulator.identifiers import new_request_id

if TYPE_CHECKING:
    from daraja_core.simulator.engine import SimulatorEngine


@dataclass(frozen=True)
class DarajaError:
    http_status: int
    error_code: str
    error_message: str

    def body(self, request_id: str | None = None) -> dict[str, str]:
        return {
            "requestId": request_id or new_request_id(),
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
        }

    def response(self, request_id: str | None = None) -> Response[Any]:
        return Response(content=self.body(request_id), status_code=self.http_status)

    @property
    def outcome(self) -> str:
        return f"{self.http_status} {self.error_code} {self.error_message}"


def logged_error(
    sim: SimulatorEngine,
    request: Request[Any, Any, Any],
    error: DarajaError,
    *,
    phone: Any = None,
    request_id: str | None = None,
) -> Response[Any]:
    """Log the refusal of `request`, then answer it with `error`."""
    sim.record_request(request.method, request.url.path, error.http_status, error.outcome, phone=phone)
    return error.response(request_id)


def bad_request(what: str) -> DarajaError:
    """`400.002.02 Bad Request - Invalid <what>` (§2b)."""
    return DarajaError(400, "400.002.02", f"Bad Request - Invalid {what}")


# OAuth (§1).
INVALID_AUTH_TYPE = DarajaError(400, "400.008.01", "Invalid authentication type passed")
INVALID_GRANT_TYPE = DarajaError(400, "400.008.02", "Invalid grant type passed")
# Bearer on API calls: HTTP 404 per the STK doc (§1, §9 item 4).
INVALID_ACCESS_TOKEN = DarajaError(404, "404.001.03", "Invalid Access Token")
INVALID_PAYLOAD = DarajaError(400, "400.002.05", "Invalid Request Payload")
WRONG_CREDENTIALS = DarajaError(500, "500.001.1001", "Wrong credentials")
# LNM#50: a shortcode Daraja does not know for Lipa na M-Pesa Online.
MERCHANT_DOES_NOT_EXIST = DarajaError(500, "500.001.1001", "Merchant does not exist")
UNABLE_TO_LOCK = DarajaError(
    500,
    "500.001.1001",
    "Unable to lock subscriber, a transaction is already in process for the current subscriber.",
)
INTERNAL_SERVER_ERROR = DarajaError(500, "500.003.1001", "Internal Server Error")
TRANSACTION_DOES_NOT_EXIST = DarajaError(500, "500.001.1001", "The transaction does not Exist")
SPIKE_ARREST = DarajaError(500, "500.003.02", "Error Occurred: Spike Arrest Violation")
