"""The Dynamic QR request body (docs/daraja.md §6b), checked before anything is sent."""

from __future__ import annotations

from typing import Any

from pos_app.daraja.errors import InvalidPaymentRequest

#: §6b TrxCodes the till asks for: BG pays a till (Buy Goods), PB a paybill.
QR_TRX_CODES = ("BG", "PB")
#: RefNo comes back as the payment's BillRefNumber, at most 20 characters (§6).
QR_REF_MAX = 20


def qr_request_body(
    *,
    merchant_name: str,
    ref_no: str,
    amount_kes: int,
    trx_code: str,
    cpi: str,
    size_px: int,
    max_amount_kes: int,
) -> dict[str, Any]:
    """The body of `POST /mpesa/qrcode/v1/generate`; InvalidPaymentRequest names what is wrong."""
    if isinstance(amount_kes, bool) or not isinstance(amount_kes, int) or amount_kes < 1:
        raise InvalidPaymentRequest("The amount must be a whole number of shillings, at least KES 1.")
    if amount_kes > max_amount_kes:
        raise InvalidPaymentRequest(f"The amount is above the KES {max_amount_kes:,} limit.")
    if trx_code not in QR_TRX_CODES or not cpi.strip().isdigit():
        raise InvalidPaymentRequest("A QR code needs a till (BG) or paybill (PB) number.")
    if not merchant_name.strip() or not 1 <= len(ref_no.strip()) <= QR_REF_MAX:
        raise InvalidPaymentRequest(
            f"A QR code needs the shop's name and a reference of 1 to {QR_REF_MAX} characters."
        )
    # §6b: Amount a whole number (SDKs disagree on int or float), Size the image's side as a string.
    return {
        "MerchantName": merchant_name.strip(),
        "RefNo": ref_no.strip(),
        "Amount": amount_kes,
        "TrxCode": trx_code,
        "CPI": cpi.strip(),
        "Size": str(size_px),
    }
