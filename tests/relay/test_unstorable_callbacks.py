"""Callbacks holding what a database cannot store as sent (an unpaired surrogate, a NUL, a value longer
than its column, an amount beyond a 32-bit integer) are decided before storing, the same way on SQLite
and PostgreSQL, and never fail the batch they share with honest callbacks. Real HTTP, real databases."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from relay.cli import main
from relay.db import Database
from relay.intake import IncomingCallback, store_raw_only
from relay.models import raw_table
from relay.simulate import stk_callback_body, stk_callback_bytes
from tests.relay.conftest import ACK, auth, registration
from tests.support.relay_fixtures import RelayFactory


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


def callback(checkout_id: str, amount: int = 10, **stk: Any) -> bytes:
    """A paid callback with `stk` fields set (`Amount`, `MpesaReceiptNumber`: in the metadata)."""
    body = stk_callback_body(checkout_id, amount=amount, receipt="TKL5550001")
    inner = body["Body"]["stkCallback"]
    for name, value in stk.items():
        if name in ("Amount", "MpesaReceiptNumber"):
            for item in inner["CallbackMetadata"]["Item"]:
                if item["Name"] == name:
                    item["Value"] = value
        else:
            inner[name] = value
    # json.dumps escapes "\ud800" and "\x00" as JSON does: valid JSON text either way.
    return json.dumps(body).encode()


async def raw_rows(database_url: str) -> list[dict[str, Any]]:
    db = Database(database_url)
    try:
        return await db.read(
            lambda c: [
                dict(row)
                for row in c.execute(
                    sa.select(raw_table.c.id, raw_table.c.status, raw_table.c.error).order_by(raw_table.c.id)
                ).mappings()
            ]
        )
    finally:
        await db.dispose()


async def test_a_poison_callback_costs_only_itself_and_never_fails_its_batch(
    database_url: str, relay_factory: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    relay = await relay_factory(database_url=database_url)
    key, path = await relay.create_till("front")
    honest = [f"ws_CO_HONEST_{n}" for n in range(12)]
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        for checkout_id in [*honest, "ws_CO_POISON"]:
            await client.post(
                "/api/v1/payments", json=registration(checkout_id, checkout_id, 10), headers=auth(key)
            )
        poison = callback("ws_CO_POISON", ResultDesc="bad \ud800 text \x00 here")
        with caplog.at_level("INFO"):
            answers = await asyncio.gather(
                client.post(path, content=poison),
                *(client.post(path, content=stk_callback_bytes(cid, amount=10)) for cid in honest),
            )
        statuses = [
            (await client.get(f"/api/v1/payments/{cid}/status", headers=auth(key))).json()
            for cid in [*honest, "ws_CO_POISON"]
        ]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(200, ACK)] * 13
    assert [status["status"] for status in statuses] == ["completed"] * 13
    assert statuses[-1]["reason"] == "bad \ufffd text \ufffd here"
    assert "batch" not in caplog.text
    assert "processing failed" not in caplog.text
    rows = await raw_rows(database_url)
    assert [row["status"] for row in rows] == ["applied"] * 13
    (poison_row,) = [row for row in rows if row["error"]]
    assert "ResultDesc: NUL or unpaired surrogates replaced by U+FFFD" in poison_row["error"]


# (stk fields, expected (status, anomaly, transactionId, paid_amount_kes), what the raw row's note says)
CASES: dict[str, tuple[dict[str, Any], tuple[str, str | None, str, int | None], str | None]] = {
    "nul_in_result_desc": (
        {"ResultDesc": "ok\x00"},
        ("completed", None, "TKL5550001", 10),
        "ResultDesc: NUL",
    ),
    "nul_in_merchant_request_id": (
        {"MerchantRequestID": "29115\x00-1"},
        ("completed", None, "TKL5550001", 10),
        "MerchantRequestID: NUL",
    ),
    "merchant_request_id_over_120": (
        {"MerchantRequestID": "m" * 121},
        ("completed", None, "TKL5550001", 10),
        "MerchantRequestID: cut to 120 characters",
    ),
    "nul_in_receipt": (
        {"MpesaReceiptNumber": "TKL\x00550001"},
        ("completed", None, "TKL\ufffd550001", 10),
        "MpesaReceiptNumber: NUL",
    ),
    "receipt_over_40": (
        {"MpesaReceiptNumber": "R" * 41},
        ("completed", None, "R" * 40, 10),
        "MpesaReceiptNumber: cut to 40 characters",
    ),
    "amount_of_2_to_the_31": (
        {"Amount": 2**31},
        ("pending", "amount_mismatch", "", None),
        None,
    ),
    "amount_written_longer_than_its_column": (
        {"Amount": 1},  # replaced by a 50-digit literal below
        ("pending", "amount_mismatch", "", None),
        "Amount: longer than 40 characters",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_values_a_database_cannot_store_are_decided_alike_on_both(
    case: str, database_url: str, relay_factory: RelayFactory
) -> None:
    fields, expected, note = CASES[case]
    relay = await relay_factory(database_url=database_url)
    key, path = await relay.create_till("front")
    body = callback("ws_CO_ODD", **fields)
    if case == "amount_written_longer_than_its_column":
        body = body.replace(b'"Value": 1}', b'"Value": 10.' + b"0" * 48 + b"}")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_ODD", 10), headers=auth(key))
        answer = await client.post(path, content=body)
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (answer.status_code, answer.json()) == (200, ACK)
    assert (
        status["status"],
        status["anomaly"],
        status["transactionId"],
        status["paid_amount_kes"],
    ) == expected
    (row,) = await raw_rows(database_url)
    assert row["status"] == "applied"
    if note is None:
        assert row["error"] is None
    else:
        assert note in row["error"]


async def test_a_checkout_request_id_that_cannot_be_kept_exactly_is_malformed_on_both(
    database_url: str, relay_factory: RelayFactory
) -> None:
    relay = await relay_factory(database_url=database_url)
    _key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        answers = [
            await client.post(path, content=callback(checkout_id))
            for checkout_id in ("ws_CO_" + "9" * 200, "ws_CO_\x001", "ws_CO_\udc801")
        ]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(200, ACK)] * 3
    rows = await raw_rows(database_url)
    assert [row["status"] for row in rows] == ["malformed"] * 3
    assert "longer than 120" in rows[0]["error"]
    assert "NUL or unpaired surrogate" in rows[1]["error"]


async def test_replay_applies_a_callback_an_earlier_relay_could_not_store(
    database_url: str, relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Kept raw with its error by a relay that let the database refuse it; replayed after this fix.
    relay = await relay_factory(database_url=database_url)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_OLD", 10), headers=auth(key))
    item = IncomingCallback(
        received_at=datetime.now(UTC),
        path=path,
        token=path.rsplit("/", 1)[1],
        source_ip="127.0.0.1",
        source_allowed=True,
        headers={},
        body=callback("ws_CO_OLD", ResultDesc="x\x00\ud800", MerchantRequestID="m" * 200),
    )
    db = Database(database_url)
    try:
        stored = await db.write(
            lambda c: store_raw_only(c, item, "DataError: invalid byte sequence for encoding UTF8: 0x00")
        )
    finally:
        await db.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(main, ["replay", str(stored.raw_id)], out=out, err=err)
    assert (code, err.getvalue()) == (0, "")
    assert "applied" in out.getvalue()
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (status["status"], status["reason"]) == ("completed", "x\ufffd\ufffd")
