"""The till's async Daraja client (OAuth, STK Push, STK Query) on httpx; see docs/architecture.md."""

from pos_app.daraja.client import DarajaClient
from pos_app.daraja.config import BUY_GOODS, PAY_BILL, DarajaConfig, DarajaConfigError
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
from pos_app.daraja.replies import PushAccepted, QueryAnswer

__all__ = [
    "BUY_GOODS",
    "PAY_BILL",
    "AuthenticationFailed",
    "DarajaClient",
    "DarajaConfig",
    "DarajaConfigError",
    "DarajaError",
    "DarajaUnreachable",
    "InvalidAccessToken",
    "InvalidPaymentPhone",
    "InvalidPaymentRequest",
    "PhoneNotMpesa",
    "PushAccepted",
    "PushNotSent",
    "PushOutcomeUnknown",
    "PushRateLimited",
    "PushRejected",
    "QueryAnswer",
    "RateLimited",
]
