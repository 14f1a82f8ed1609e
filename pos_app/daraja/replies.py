"""Reading Daraja's answers (docs/daraja.md §1–§3, §6b): error codes, the answer types the client returns, and
the wording of refusals. The client (`client.py`) sends requests; this module only reads what came back."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from daraja_core.results import ResultInfo, classify
from pos_app.daraja.errors import DarajaError

#: §1: `404.001.03` (HTTP 404, documented), `400.003.01` (C2B/TS pages), `401.002.01` (Go SDK fixture).
INVALID_TOKEN_CODES = frozenset({"404.001.03", "400.003.01", "401.002.01"})
#: §2b / §3: spike arrest and quota, both HTTP 500; Apigee's own form is HTTP 429.
RATE_LIMIT_CODES = frozenset({"500.003.02", "500.003.03"})
#: §2b: one code for several situations, so its text is the only way to tell them apart.
MERCHANT_ERROR_CODE = "500.001.1001"

DEFAULT_EXPIRES_IN_S = 3599  # §1: what Daraja returns

AUTH_REFUSED = (
    "Daraja refused the consumer key/secret: check MPESA_CONSUMER_KEY/MPESA_CONSUMER_SECRET and the "
    "environment (sandbox vs production)"
)
PROMPT_MAY_BE_ON_PHONE = (
    "No clear answer from Daraja after the payment request was sent; the prompt may be on the "
    "customer's phone. Check the customer's SMS before charging again"
)


@dataclass(frozen=True)
class PushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str
    response_description: str = ""


@dataclass(frozen=True)
class QueryAnswer:
    """`pending`: no result yet, ask again later. `final`: result_code is the payment's result.
    `not_found`: Daraja does not know the CheckoutRequestID (§3)."""

    state: Literal["pending", "final", "not_found"]
    result_code: str | None
    result_desc: str
    raw: dict[str, Any] = field(default_factory=dict)
    http_status: int = 200

    @property
    def info(self) -> ResultInfo | None:
        return classify(self.result_code) if self.state == "final" and self.result_code else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    #: The bearer token the request carried: `401.002.01` quotes it back in errorMessage (§1).
    token: str = ""

    @classmethod
    def of(cls, response: httpx.Response, token: str = "") -> Reply:
        try:
            body = json.loads(response.content) if response.content.strip() else None
        except ValueError:
            body = None
        return cls(response.status_code, body, token)

    def _field(self, name: str) -> str | None:
        if isinstance(self.body, dict) and self.body.get(name) is not None:
            return str(self.body[name]).strip()
        return None

    @property
    def error_code(self) -> str | None:
        return self._field("errorCode")

    @property
    def error_message(self) -> str:
        message = self._field("errorMessage")
        if message is not None:
            return message.replace(self.token, "<access token>") if self.token else message
        if isinstance(self.body, dict) and isinstance(self.body.get("fault"), dict):
            return str(self.body["fault"].get("faultstring", ""))
        return ""

    @property
    def request_id(self) -> str | None:
        return self._field("requestId")

    @property
    def invalid_token(self) -> bool:
        return self.error_code in INVALID_TOKEN_CODES or self.status == 401

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.error_code in RATE_LIMIT_CODES

    def error(self, kind: type[DarajaError], detail: str | None = None) -> DarajaError:
        return kind(self.error_code, self.error_message, self.request_id, self.status, detail=detail)


def parse_expires_in(value: Any) -> float:
    # A string "3599" on the wire, a number in the doc (§1, §9 item 12).
    if isinstance(value, bool):
        return DEFAULT_EXPIRES_IN_S
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return DEFAULT_EXPIRES_IN_S
    return seconds if seconds > 0 else DEFAULT_EXPIRES_IN_S


def transport_error(kind: type[DarajaError], exc: Exception, detail: str) -> DarajaError:
    # No Daraja words here: the failure is ours or the network's, named by httpx's exception type.
    return kind(None, "", detail=f"{detail} ({type(exc).__name__})")


def definite_merchant_refusal(message: str) -> str | None:
    """`500.001.1001` texts that mean Daraja refused the push before any prompt (§2b, §9 items 2 and 11)."""
    text = message.lower()
    if "wrong credentials" in text:
        return (
            "Daraja refused the shortcode/passkey (wrong credentials): check MPESA_SHORTCODE, MPESA_PASSKEY"
        )
    if "unable to lock subscriber" in text:
        return "The customer already has an M-Pesa prompt open; wait for it to finish, then charge again"
    if "merchant does not exist" in text:
        return "Daraja does not know this shortcode: check MPESA_SHORTCODE and the environment"
    return None


# ---- Dynamic QR (§6b) ---------------------------------------------------------------------------------

#: §6b: the image arrives base64 in `QRCode`; a PNG in the published sample, JPEG in one SDK's sample.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


@dataclass(frozen=True)
class DynamicQr:
    """A QR code Daraja drew for one payment: the image bytes (`image_type` "png" or "jpeg") and ids."""

    image: bytes = field(repr=False)
    image_type: Literal["png", "jpeg"]
    request_id: str
    response_code: str
    response_description: str


def dynamic_qr_of(reply: Reply) -> DynamicQr | None:
    """The QR in a 200 answer, or None. Success is read from a decodable image being there, not from
    `ResponseCode`: the published sample puts a conversation id in it, SDK tests "0" (§6b)."""
    body = reply.body
    if reply.status != 200 or not isinstance(body, dict) or not isinstance(body.get("QRCode"), str):
        return None
    encoded = body["QRCode"].strip()
    if encoded.startswith("data:") and "," in encoded:  # `data:image/jpeg;base64,…` as one sample renders it
        encoded = encoded.split(",", 1)[1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    kind: Literal["png", "jpeg"]
    if image.startswith(PNG_SIGNATURE):
        kind = "png"
    elif image.startswith(JPEG_SIGNATURE):
        kind = "jpeg"
    else:
        return None
    return DynamicQr(
        image=image,
        image_type=kind,
        request_id=str(body.get("RequestID") or "").strip(),
        response_code=str(body.get("ResponseCode") or "").strip(),
        response_description=str(body.get("ResponseDescription") or "").strip(),
    )
