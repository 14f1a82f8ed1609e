"""Dynamic QR (docs/daraja.md §6b): the till's client asks the real simulator over loopback HTTP and gets a
scannable PNG of the payment it asked for; Daraja's other answers (a JPEG data URL, no image, a refusal,
a stale token) through the scripted Daraja."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.simulator import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from daraja_core.simulator.qr import QrPayment, qr_content
from pos_app.daraja import DarajaClient, DarajaConfig, DarajaError, DarajaUnreachable, InvalidPaymentRequest
from pos_app.daraja.client import QR_PATH
from tests.support.qr_image import png_says
from tests.support.simulator_fixtures import RunningSimulator

from .fake_daraja import OAUTH, FakeDaraja

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def qr_args(**changes: object) -> dict[str, object]:
    args: dict[str, object] = {
        "merchant_name": "Duka la Mama",
        "ref_no": "S7KQ2M9XZ",
        "amount_kes": 350,
        "trx_code": "PB",
        "cpi": SANDBOX_SHORTCODE,
        "size_px": 360,
    }
    return {**args, **changes}


@pytest.fixture
async def sim_client(simulator: RunningSimulator) -> AsyncIterator[DarajaClient]:
    config = DarajaConfig(
        consumer_key=SIM_CONSUMER_KEY,
        consumer_secret=SIM_CONSUMER_SECRET,
        shortcode=SANDBOX_SHORTCODE,
        passkey=SANDBOX_PASSKEY,
        base_url_override=simulator.base_url,
    )
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        yield DarajaClient(config, http)


async def test_the_simulator_draws_a_png_that_says_the_paybill_amount_and_sale_reference(
    simulator: RunningSimulator, sim_client: DarajaClient
) -> None:
    qr = await sim_client.dynamic_qr(**qr_args())  # type: ignore[arg-type]
    assert qr.image_type == "png" and qr.request_id
    assert qr.response_description == "QR Code Successfully Generated."
    said = qr_content(
        QrPayment(
            request_id=qr.request_id,
            trx_code="PB",
            cpi=SANDBOX_SHORTCODE,
            amount_kes=350,
            ref_no="S7KQ2M9XZ",
            merchant_name="Duka la Mama",
        )
    )
    assert png_says(qr.image, said)
    assert not png_says(qr.image, said.replace("amount=350", "amount=351"))
    [request] = [r for r in (await simulator.log())["requests"] if r["path"] == QR_PATH]
    assert request["status"] == 200


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"amount_kes": 0}, "at least KES 1"),
        ({"amount_kes": 250_001}, "above the KES 250,000 limit"),
        ({"trx_code": "SM"}, r"till \(BG\) or paybill \(PB\)"),
        ({"ref_no": "R" * 21}, "reference of 1 to 20"),
    ],
)
async def test_a_request_daraja_would_refuse_is_refused_before_anything_is_sent(
    fake: FakeDaraja, client: DarajaClient, changes: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidPaymentRequest, match=words):
        await client.dynamic_qr(**qr_args(**changes))  # type: ignore[arg-type]
    assert fake.paths() == []


async def test_a_jpeg_data_url_is_read_and_a_stale_token_is_refreshed_once(
    fake: FakeDaraja, client: DarajaClient
) -> None:
    encoded = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    fake.queue(
        QR_PATH,
        httpx.Response(
            404, json={"requestId": "r1", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        ),
        httpx.Response(200, json={"ResponseCode": "0", "RequestID": "QR1", "QRCode": encoded}),
    )
    qr = await client.dynamic_qr(**qr_args())  # type: ignore[arg-type]
    assert (qr.image, qr.image_type, qr.request_id) == (JPEG, "jpeg", "QR1")
    assert fake.paths() == [OAUTH, QR_PATH, OAUTH, QR_PATH]
    assert fake.bodies(QR_PATH)[0] == {
        "MerchantName": "Duka la Mama",
        "RefNo": "S7KQ2M9XZ",
        "Amount": 350,
        "TrxCode": "PB",
        "CPI": "174379",
        "Size": "360",
    }


async def test_no_image_is_no_qr_and_a_refusal_keeps_darajas_words(
    fake: FakeDaraja, client: DarajaClient
) -> None:
    fake.queue(
        QR_PATH,
        httpx.Response(200, json={"ResponseCode": "0", "QRCode": base64.b64encode(b"GIF89a").decode()}),
        httpx.Response(
            400,
            json={"requestId": "r2", "errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid CPI"},
        ),
    )
    with pytest.raises(DarajaUnreachable, match="no QR code"):
        await client.dynamic_qr(**qr_args())  # type: ignore[arg-type]
    with pytest.raises(DarajaError, match="Invalid CPI") as refused:
        await client.dynamic_qr(**qr_args())  # type: ignore[arg-type]
    assert refused.value.error_code == "400.002.02"


def test_png_and_jpeg_signatures_are_the_ones_read() -> None:
    from pos_app.daraja.replies import Reply, dynamic_qr_of

    def reply(image: bytes) -> Reply:
        return Reply(200, {"QRCode": base64.b64encode(image).decode()})

    assert [getattr(dynamic_qr_of(reply(i)), "image_type", None) for i in (PNG, JPEG, b"BM")] == [
        "png",
        "jpeg",
        None,
    ]
