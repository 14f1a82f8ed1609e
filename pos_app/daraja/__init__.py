"""The till's async Daraja client (OAuth, STK Push, STK Query, Dynamic QR) on httpx; docs/architecture.md."""

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
from pos_app.daraja.replies import DynamicQr, PushAccepted, QueryAnswer

__all__ = [
    "BUY_GOODS",
    "PAY_BILL",
    "AuthenticationFailed",
    "DarajaClient",
    "DarajaConfig",
    "DarajaConfigError",
    "DarajaError",
    "DarajaUnreachable",
    "DynamicQr",
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
