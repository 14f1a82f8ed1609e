"""Dynamic QR in the simulator (docs/daraja.md §6b): a real PNG of the asked size whose content the
simulated customer pays by, through the ordinary C2B confirmation (§6).
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import pytest
import segno

from daraja_core.simulator.qr import QR_PREFIX, QrPayment, parse_qr_content, qr_content, qr_png
from tests.simulator.c2b_receiver import C2BReceiver, register
from tests.simulator.daraja_calls import assert_daraja_error, bearer, daraja_client, token
from tests.support.simulator_fixtures import RunningSimulator

QR_PATH = "/mpesa/qrcode/v1/generate"


def qr_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "MerchantName": "TEST SUPERMARKET",
        "RefNo": "Invoice Test",
        "Amount": 350,
        "TrxCode": "BG",
        "CPI": "174379",
        "Size": "300",
    }
    body.update(overrides)
    return body


async def generate(sim: RunningSimulator, **overrides: Any) -> dict[str, Any]:
    async with daraja_client(sim.base_url) as client:
        answer = await client.post(QR_PATH, json=qr_body(**overrides), headers=bearer(await token(client)))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_pixels(png: bytes) -> list[bytes]:
    """The rows of the simulator's own 8-bit greyscale PNGs (one IDAT, filter 0 on every row)."""
    width, _ = png_size(png)
    idat = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[idat - 4 : idat])
    raw = zlib.decompress(png[idat + 4 : idat + 4 + length])
    rows = [raw[i : i + width + 1] for i in range(0, len(raw), width + 1)]
    assert all(row[0] == 0 for row in rows)
    return [row[1:] for row in rows]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("size", ["300", 420])
async def test_generate_answers_a_png_of_the_asked_size_in_base64(
    shared_simulator: RunningSimulator, size: str | int
) -> None:
    answer = await generate(shared_simulator, Size=size)
    assert set(answer) == {"ResponseCode", "RequestID", "ResponseDescription", "QRCode"}
    assert answer["ResponseDescription"] == "QR Code Successfully Generated."
    assert answer["ResponseCode"].startswith("AG_")
    png = base64.b64decode(answer["QRCode"], validate=True)
    assert png_size(png) == (int(size), int(size))
    pixels = png_pixels(png)
    assert len(pixels) == int(size) and {value for row in pixels for value in row} == {0, 255}
    assert pixels[0] == b"\xff" * int(size), "a white quiet zone around the symbol"


def test_the_png_draws_the_segno_symbol_with_whole_pixels_per_module() -> None:
    content = qr_content(QrPayment("16738-27456357-1", "BG", "174379", 350, "INV-9", "TEST SHOP"))
    symbol = [list(row) for row in segno.make_qr(content, error="m").matrix_iter(border=4)]
    modules = len(symbol)
    scale = 300 // modules
    pixels = png_pixels(qr_png(content, 300))
    margin = (300 - modules * scale) // 2
    sampled = [
        [
            pixels[margin + y * scale + scale // 2][margin + x * scale + scale // 2] == 0
            for x in range(modules)
        ]
        for y in range(modules)
    ]
    assert sampled == [[bool(dark) for dark in row] for row in symbol]


async def test_the_png_encodes_merchant_amount_and_reference_and_the_customer_pays_it_by_id_or_content(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver)
    generated = await generate(simulator, RefNo="INV-42", Amount=350, Size="300")
    content = qr_content(QrPayment(generated["RequestID"], "BG", "174379", 350, "INV-42", "TEST SUPERMARKET"))
    assert base64.b64decode(generated["QRCode"]) == qr_png(content, 300), "the image is of exactly this text"
    async with daraja_client(simulator.base_url) as client:
        by_id = await client.post(
            "/simulator/c2b/pay", json={"qr": generated["RequestID"], "phone": "0712345678"}
        )
        by_content = await client.post("/simulator/c2b/pay", json={"qr": content, "phone": "0712345678"})
    assert by_id.status_code == by_content.status_code == 200, by_id.text
    first, second = receiver.posts("confirmation")
    for confirmation in (first, second):
        body = confirmation.json
        assert (body["TransactionType"], body["BusinessShortCode"]) == ("Buy Goods", "174379")
        assert (body["TransAmount"], body["BillRefNumber"]) == ("350.00", "INV-42")
    assert first.json["TransID"] == by_id.json()["TransID"] != second.json["TransID"]


def test_qr_content_round_trips_and_is_marked_as_a_simulator_code() -> None:
    payment = QrPayment("16738-27456357-1", "PB", "600984", 1200, "ACC 7&8", "MAMA MBOGA")
    content = qr_content(payment)
    assert content.startswith(QR_PREFIX) and "MAMA+MBOGA" in content
    assert parse_qr_content(content) == payment


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"TrxCode": "WA"}, "Bad Request - Invalid TrxCode"),
        ({"Size": "20"}, "Bad Request - Invalid Size"),
        ({"Size": "3000"}, "Bad Request - Invalid Size"),
        ({"Amount": "1.5"}, "Bad Request - Invalid Amount"),
        ({"CPI": "07"}, "Bad Request - Invalid CPI"),
        ({"MerchantName": ""}, "Bad Request - Invalid MerchantName"),
    ],
)
async def test_a_malformed_qr_request_is_refused_naming_the_field(
    shared_simulator: RunningSimulator, fields: dict[str, Any], message: str
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await client.post(QR_PATH, json=qr_body(**fields), headers=bearer(await token(client)))
    assert_daraja_error(answer, 400, "400.002.02", message)


@pytest.mark.asyncio(loop_scope="module")
async def test_customer_pay_by_qr_refuses_an_amount_of_its_own(shared_simulator: RunningSimulator) -> None:
    generated = await generate(shared_simulator)
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await client.post(
            "/simulator/c2b/pay", json={"qr": generated["RequestID"], "amount": 1, "phone": "0712345678"}
        )
    assert answer.status_code == 400
    assert "takes its amount and reference from the QR code" in answer.json()["error"]
