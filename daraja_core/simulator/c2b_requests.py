"""Checks of C2B, Pull Transactions and Dynamic QR requests (docs/daraja.md §6, §6b).

Daraja's error texts for these APIs are unpublished except "Urls are already registered"; the
`Bad Request - Invalid <field>` answers below are the simulator's guess in the style of STK Push (§2b).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daraja_core.mobile_networks import stk_push_reaches
from daraja_core.password import NAIROBI
from daraja_core.simulator import errors
from daraja_core.simulator.c2b_bodies import BUY_GOODS, PAY_BILL
from daraja_core.simulator.qr import PAYABLE_TRX_CODES, QrPayment, qr_content, smallest_side_px
from daraja_core.simulator.validation import (
    SHORTCODE_PATTERN,
    RequestRefused,
    callback_url_problem,
    scalar_text,
    whole_amount_kes,
)

RESPONSE_TYPES = ("Completed", "Cancelled")  # sentence case, spelt exactly (§6)
COMMAND_TRANSACTION_TYPES = {"CustomerBuyGoodsOnline": BUY_GOODS, "CustomerPayBillOnline": PAY_BILL}
#: BillRefNumber holds up to 20 characters (§6).
BILL_REF_MAX = 20
_MSISDN = re.compile(r"254[17]\d{8}")
#: Pull Transactions dates, Nairobi time: "2019-07-31 20:35:21" or "2019-07-31 19:00" (§6).
_PULL_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
#: The simulator's own bounds on a QR image and its merchant name; Daraja's are unpublished.
QR_MAX_SIDE_PX = 2000
MERCHANT_NAME_MAX = 100


@dataclass(frozen=True)
class UrlRegistration:
    shortcode: str
    response_type: str
    confirmation_url: str
    validation_url: str


@dataclass(frozen=True)
class SimulateRequest:
    shortcode: str
    transaction_type: str
    amount_kes: int
    msisdn: str
    bill_ref: str


@dataclass(frozen=True)
class PullQuery:
    shortcode: str
    start: datetime
    end: datetime
    offset: int


def _shortcode(body: dict[str, Any]) -> str:
    text = scalar_text(body.get("ShortCode"))
    if text is None or not SHORTCODE_PATTERN.fullmatch(text):
        raise RequestRefused(errors.bad_request("ShortCode"))
    return text


def _url(body: dict[str, Any], field: str) -> str:
    url = body.get(field)
    if not isinstance(url, str) or callback_url_problem(url) is not None:
        raise RequestRefused(errors.bad_request(field))
    return url


def _bill_ref(value: Any) -> str:
    # Daraja's sample sends null for a till (§6); an account number is at most 20 characters.
    text = "" if value is None else scalar_text(value)
    if text is None or len(text) > BILL_REF_MAX:
        raise RequestRefused(errors.bad_request("BillRefNumber"))
    return text


def check_register(body: dict[str, Any]) -> UrlRegistration:
    shortcode = _shortcode(body)
    response_type = body.get("ResponseType")
    if response_type not in RESPONSE_TYPES:
        raise RequestRefused(errors.bad_request("ResponseType"))
    return UrlRegistration(
        shortcode=shortcode,
        response_type=str(response_type),
        confirmation_url=_url(body, "ConfirmationURL"),
        validation_url=_url(body, "ValidationURL"),
    )


def check_simulate(body: dict[str, Any]) -> SimulateRequest:
    shortcode = _shortcode(body)
    transaction_type = COMMAND_TRANSACTION_TYPES.get(str(body.get("CommandID")))
    if transaction_type is None:
        raise RequestRefused(errors.bad_request("CommandID"))
    amount_kes = whole_amount_kes(body.get("Amount"))
    msisdn = scalar_text(body.get("Msisdn"))
    # Only an M-Pesa line can pay (§2c): numbers on other networks are refused like malformed ones.
    if msisdn is None or not _MSISDN.fullmatch(msisdn) or not stk_push_reaches(msisdn):
        raise RequestRefused(errors.bad_request("Msisdn"))
    return SimulateRequest(
        shortcode=shortcode,
        transaction_type=transaction_type,
        amount_kes=amount_kes,
        msisdn=msisdn,
        bill_ref=_bill_ref(body.get("BillRefNumber")),
    )


def check_pull_register(body: dict[str, Any]) -> tuple[str, str]:
    """The shortcode and the callback URL of a Pull Transactions registration."""
    shortcode = _shortcode(body)
    if body.get("RequestType") != "Pull":
        raise RequestRefused(errors.bad_request("RequestType"))
    if not scalar_text(body.get("NominatedNumber")):
        raise RequestRefused(errors.bad_request("NominatedNumber"))
    return shortcode, _url(body, "CallBackURL")


def _pull_date(body: dict[str, Any], field: str) -> datetime:
    text = body.get(field)
    if isinstance(text, str):
        for pattern in _PULL_DATE_FORMATS:
            try:
                return datetime.strptime(text.strip(), pattern).replace(tzinfo=NAIROBI)
            except ValueError:
                continue
    raise RequestRefused(errors.bad_request(field))


def check_pull_query(body: dict[str, Any]) -> PullQuery:
    shortcode = _shortcode(body)
    start, end = _pull_date(body, "StartDate"), _pull_date(body, "EndDate")
    if end < start:
        raise RequestRefused(errors.bad_request("EndDate"))
    offset = scalar_text(body.get("OffSetValue", "0"))
    if offset is None or not offset.isdigit():
        raise RequestRefused(errors.bad_request("OffSetValue"))
    return PullQuery(shortcode=shortcode, start=start, end=end, offset=int(offset))


def check_qr_generate(body: dict[str, Any], request_id: str) -> tuple[QrPayment, int]:
    """The QR's payment and the image side in pixels."""
    merchant_name = body.get("MerchantName")
    if (
        not isinstance(merchant_name, str)
        or not merchant_name.strip()
        or len(merchant_name) > MERCHANT_NAME_MAX
    ):
        raise RequestRefused(errors.bad_request("MerchantName"))
    ref_no = scalar_text(body.get("RefNo"))
    if ref_no is None or len(ref_no) > BILL_REF_MAX:
        raise RequestRefused(errors.bad_request("RefNo"))
    amount_kes = whole_amount_kes(body.get("Amount"))
    trx_code = body.get("TrxCode")
    # Deviation (README): WA, SM and SB QR codes are not C2B payments to a till, so not simulated.
    if trx_code not in PAYABLE_TRX_CODES:
        raise RequestRefused(errors.bad_request("TrxCode"))
    cpi = scalar_text(body.get("CPI"))
    if cpi is None or not SHORTCODE_PATTERN.fullmatch(cpi):
        raise RequestRefused(errors.bad_request("CPI"))
    payment = QrPayment(
        request_id=request_id,
        trx_code=str(trx_code),
        cpi=cpi,
        amount_kes=amount_kes,
        ref_no=ref_no,
        merchant_name=merchant_name.strip(),
    )
    size = scalar_text(body.get("Size"))
    if size is None or not size.isdigit():
        raise RequestRefused(errors.bad_request("Size"))
    side_px = int(size)
    if not smallest_side_px(qr_content(payment)) <= side_px <= QR_MAX_SIDE_PX:
        raise RequestRefused(errors.bad_request("Size"))
    return payment, side_px
