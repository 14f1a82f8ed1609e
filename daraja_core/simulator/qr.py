"""Dynamic QR codes (docs/daraja.md §6b): what the simulator's QR says, and the PNG it is drawn in.

Safaricom's own QR payload format is not public, so the simulator writes its own, marked as a demo:
`DARAJA-SIMULATOR-QR?id=…&trx=BG&cpi=174379&amount=350&ref=…&merchant=…`. The simulated customer pays
by reading it back (`parse_qr_content`), the way the M-Pesa app reads a real one.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import segno

QR_PREFIX = "DARAJA-SIMULATOR-QR?"
#: TrxCodes that make a C2B payment: BG pays a till (Buy Goods), PB a paybill (§6b).
PAYABLE_TRX_CODES = ("BG", "PB")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The QR standard's quiet zone: 4 white modules on every side.
QUIET_ZONE_MODULES = 4


class QrContentError(ValueError):
    """Not a simulator QR, or one with a field missing or wrong."""


@dataclass(frozen=True)
class QrPayment:
    request_id: str
    trx_code: str
    cpi: str
    amount_kes: int
    ref_no: str
    merchant_name: str


def qr_content(payment: QrPayment) -> str:
    return QR_PREFIX + urlencode(
        {
            "id": payment.request_id,
            "trx": payment.trx_code,
            "cpi": payment.cpi,
            "amount": str(payment.amount_kes),
            "ref": payment.ref_no,
            "merchant": payment.merchant_name,
        }
    )


def parse_qr_content(text: str) -> QrPayment:
    if not text.startswith(QR_PREFIX):
        raise QrContentError("not a QR code made by this simulator")
    fields = {key: values[0] for key, values in parse_qs(text[len(QR_PREFIX) :]).items()}
    try:
        payment = QrPayment(
            request_id=fields["id"],
            trx_code=fields["trx"],
            cpi=fields["cpi"],
            amount_kes=int(fields["amount"]),
            ref_no=fields.get("ref", ""),
            merchant_name=fields["merchant"],
        )
    except (KeyError, ValueError):
        raise QrContentError("the QR code misses a field or has a wrong amount") from None
    if payment.trx_code not in PAYABLE_TRX_CODES or not payment.cpi.isdigit() or payment.amount_kes < 1:
        raise QrContentError("the QR code is not a payment to a till or paybill")
    return payment


def smallest_side_px(content: str) -> int:
    """The side of the smallest PNG `qr_png` can draw `content` in (one pixel per module)."""
    width, _ = segno.make_qr(content, error="m").symbol_size(border=QUIET_ZONE_MODULES)
    return int(width)


def qr_png(content: str, side_px: int) -> bytes:
    """A `side_px` × `side_px` black-on-white PNG of `content`, scannable.

    Whole pixels per module (scanners want even modules); the pixels left over widen the white border.
    """
    code = segno.make_qr(content, error="m")
    rows = [bytes(row) for row in code.matrix_iter(scale=1, border=QUIET_ZONE_MODULES)]
    modules = len(rows)
    if side_px < modules:
        raise ValueError(f"{side_px} px is smaller than the {modules}-module symbol")
    scale = side_px // modules
    margin_before = (side_px - modules * scale) // 2
    white_row = b"\x00" * side_px
    raster: list[bytes] = [white_row] * margin_before
    for row in rows:
        line = b"\x00" * margin_before + b"".join(bytes([dark]) * scale for dark in row)
        line += b"\x00" * (side_px - len(line))
        raster += [line] * scale
    raster += [white_row] * (side_px - len(raster))
    return _png_greyscale(raster, side_px)


def _png_greyscale(dark_rows: list[bytes], side_px: int) -> bytes:
    """An 8-bit greyscale PNG (RFC 2083) of rows where 1 means a dark pixel."""
    flip = bytes.maketrans(b"\x00\x01", b"\xff\x00")
    scanlines = b"".join(b"\x00" + row.translate(flip) for row in dark_rows)  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side_px, side_px, 8, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines, 9))
        + chunk(b"IEND", b"")
    )
