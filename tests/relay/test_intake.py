"""Callback intake through Litestar's test client: stored raw first, parsed once per CheckoutRequestID,
checked against the registration, and always answered 200 Accepted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from daraja_core.callback import parse_stk_callback
from relay import intake as intake_module
from relay.db import Database
from relay.models import raw_table, result_table, selftest_table
from relay.simulate import RESULT_DESCS, stk_callback_bytes
from tests.relay.conftest import (
    ACK,
    FIXTURES,
    PHONE,
    SEED_CHECKOUT_ID,
    SEED_CURL,
    SEED_PATH,
    InProcessRelay,
    auth,
    fixture_bytes,
)


async def raw_rows(relay: InProcessRelay) -> list[dict[str, Any]]:
    db = Database(relay.settings.database_url)
    try:
        return await db.read(
            lambda c: [dict(r) for r in c.execute(sa.select(raw_table).order_by(raw_table.c.id)).mappings()]
        )
    finally:
        await db.dispose()


async def count(relay: InProcessRelay, table: sa.Table) -> int:
    db = Database(relay.settings.database_url)
    try:
        return int(
            await db.read(lambda c: c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        )
    finally:
        await db.dispose()


def test_the_seed_constant_is_the_recorded_seed_payload() -> None:
    assert fixture_bytes("callback_seed_curl.json").decode().strip() == SEED_CURL


async def test_the_seed_curl_payload_on_the_seed_path_is_kept_and_applied_when_the_registration_arrives(
    relay: InProcessRelay,
) -> None:
    key, _ = await relay.create_till("front")
    await relay.callback(SEED_PATH, SEED_CURL)
    [raw] = await raw_rows(relay)
    assert raw["status"] == "orphan"
    assert raw["body"] == SEED_CURL.encode()
    assert raw["path"] == SEED_PATH

    registered = await relay.register(key, "order-1", SEED_CHECKOUT_ID, 1, "0708374149")
    assert registered["status"] == "completed"
    assert registered["transactionId"] == "NLJ7RT61SV"
    assert registered["result_code"] == "0"
    assert registered["paid_amount_kes"] == 1
    assert registered["phone"] == "2547*****149"


async def test_the_answer_is_200_accepted_not_201(relay: InProcessRelay) -> None:
    answer = await relay.client.post(SEED_PATH, content=SEED_CURL)
    assert answer.status_code == 200
    assert answer.json() == ACK


def _callback_fixtures() -> list[str]:
    return sorted(
        p.name for p in FIXTURES.glob("callback_*.json") if not p.name.startswith("callback_invalid")
    )


@pytest.mark.parametrize("name", _callback_fixtures())
async def test_every_recorded_result_settles_its_registered_payment_by_its_code(
    relay: InProcessRelay, name: str
) -> None:
    body = fixture_bytes(name)
    parsed = parse_stk_callback(body)
    key, path = await relay.create_till("front")
    amount_kes = parsed.amount_kes if parsed.amount_kes is not None else 1
    await relay.register(key, "o", parsed.checkout_request_id, amount_kes, parsed.phone or PHONE)
    await relay.callback(path, body)
    status = await relay.status(key, "o")
    assert status["result_code"] == parsed.result_code
    if parsed.result_code != "0":
        assert status["status"] == "failed"
        assert status["reason"] == parsed.result_desc
        assert status["transactionId"] == ""
    elif parsed.amount_kes is None:
        # A fractional Amount is not a whole number of shillings: an anomaly, never paid.
        assert status["status"] == "pending"
        assert status["anomaly"] == "amount_mismatch"
    else:
        assert status["status"] == "completed"
        assert status["transactionId"] == parsed.receipt


@pytest.mark.parametrize("code", sorted(RESULT_DESCS))
async def test_every_result_code_in_the_reference_is_stored_with_its_code(
    relay: InProcessRelay, code: str
) -> None:
    key, path = await relay.create_till("front")
    checkout = f"ws_CO_CODE_{code}"
    await relay.register(key, "o", checkout, 10)
    await relay.callback(path, stk_callback_bytes(checkout, result_code=code, amount=10))
    status = await relay.status(key, "o")
    assert status["result_code"] == code
    assert status["status"] == ("completed" if code == "0" else "failed")


async def test_a_duplicate_changes_nothing_and_is_counted(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", SEED_CHECKOUT_ID)
    await relay.callback(path, SEED_CURL)
    first = await relay.status(key, "o")
    await relay.callback(path, SEED_CURL)
    await relay.callback(SEED_PATH, SEED_CURL)
    assert await relay.status(key, "o") == first
    assert [r["status"] for r in await raw_rows(relay)] == ["applied", "duplicate", "duplicate"]
    db = Database(relay.settings.database_url)
    try:
        duplicates = await db.read(lambda c: c.execute(sa.select(result_table.c.duplicates)).scalar_one())
    finally:
        await db.dispose()
    assert duplicates == 2
    metrics = (await relay.client.get("/metrics")).text
    assert "relay_callback_duplicates_total 2.0" in metrics
    feed = (await relay.client.get("/api/v1/results", headers=auth(key))).json()
    assert len(feed["items"]) == 1


@pytest.mark.parametrize(
    ("body", "error_part"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"Body": {"stkCallback": {"CheckoutRequestID": 12, "ResultCode": 0}}}', "CheckoutRequestID"),
        (b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": true}}}', "ResultCode"),
        (
            b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, '
            b'"CallbackMetadata": {"Item": "x"}}}}',
            "Item",
        ),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (fixture_bytes("callback_invalid_no_stkcallback.json"), "stkCallback"),
        (fixture_bytes("callback_invalid_no_checkout_request_id.json"), "CheckoutRequestID"),
    ],
    ids=[
        "empty",
        "broken-json",
        "array",
        "id-not-string",
        "code-bool",
        "items-not-list",
        "not-utf8",
        "no-stkcallback",
        "no-checkout-id",
    ],
)
async def test_a_malformed_body_is_answered_200_and_kept_with_its_error(
    relay: InProcessRelay, body: bytes, error_part: str
) -> None:
    _, path = await relay.create_till("front")
    answer = await relay.client.post(path, content=body)
    assert answer.status_code == 200
    assert answer.json() == ACK
    [raw] = await raw_rows(relay)
    assert raw["status"] == "malformed"
    assert raw["body"] == body
    assert error_part in raw["error"]
    assert "relay_callback_parse_errors_total 1.0" in (await relay.client.get("/metrics")).text


async def test_an_oversize_body_is_refused_with_413(relay: InProcessRelay) -> None:
    answer = await relay.client.post(SEED_PATH, content=b"x" * (relay.settings.max_body_bytes + 1))
    assert answer.status_code == 413


async def test_the_raw_request_keeps_headers_source_and_time_but_not_credentials(
    relay: InProcessRelay,
) -> None:
    answer = await relay.client.post(
        SEED_PATH,
        content=SEED_CURL,
        headers={
            "Content-Type": "application/json;charset=UTF-8",
            "Businessshortcode": "174379",
            "Authorization": "Bearer secret-value",
        },
    )
    assert answer.status_code == 200
    [raw] = await raw_rows(relay)
    headers = json.loads(raw["headers"])
    assert headers["businessshortcode"] == "174379"
    assert "authorization" not in headers
    assert "secret-value" not in raw["headers"]
    assert raw["source_ip"]
    assert raw["received_at"] == relay.clock.now


async def test_a_callback_on_an_unknown_token_is_kept_for_the_operator_and_never_applied(
    relay: InProcessRelay,
) -> None:
    key, _ = await relay.create_till("front")
    await relay.register(key, "o", SEED_CHECKOUT_ID)
    await relay.callback("/api/v1/callbacks/stk/0000000000000000deadbeef00000000", SEED_CURL)
    assert (await relay.status(key, "o"))["status"] == "pending"
    [raw] = await raw_rows(relay)
    assert raw["status"] == "unknown_token"
    assert raw["checkout_request_id"] == SEED_CHECKOUT_ID
    alerts = (await relay.client.get("/api/v1/alerts")).json()
    assert alerts["unapplied_callbacks_24h"] == {"unknown_token": 1}


async def test_a_revoked_tills_callback_path_no_longer_applies_results(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", SEED_CHECKOUT_ID)
    await relay.revoke("front")
    await relay.callback(path, SEED_CURL)
    assert [r["status"] for r in await raw_rows(relay)] == ["unknown_token"]


async def test_an_amount_mismatch_is_an_anomaly_visible_to_the_till_not_a_payment(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_AMT", 100)
    await relay.callback(path, stk_callback_bytes("ws_CO_AMT", amount=1, receipt="TKL1234567"))
    status = await relay.status(key, "o")
    assert status["status"] == "pending"
    assert status["anomaly"] == "amount_mismatch"
    assert status["paid_amount_kes"] == 1
    assert status["transactionId"] == ""
    feed = (await relay.client.get("/api/v1/results", headers=auth(key))).json()
    assert [item["kind"] for item in feed["items"]] == ["anomaly"]
    alerts = (await relay.client.get("/api/v1/alerts")).json()
    assert [a["anomaly"] for a in alerts["anomalies"]] == ["amount_mismatch"]
    assert 'relay_anomalies_total{kind="amount_mismatch"} 1.0' in (await relay.client.get("/metrics")).text


async def test_a_phone_mismatch_is_an_anomaly_not_a_payment(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_PH", 10, "0711000001")
    await relay.callback(path, stk_callback_bytes("ws_CO_PH", amount=10, phone="254708374149"))
    status = await relay.status(key, "o")
    assert (status["status"], status["anomaly"]) == ("pending", "phone_mismatch")
    assert "254708374149" not in status["reason"]


async def test_a_callback_for_an_unknown_id_is_kept_then_applied_when_registered(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.callback(path, stk_callback_bytes("ws_CO_EARLY", amount=25, receipt="TKL7654321"))
    assert [r["status"] for r in await raw_rows(relay)] == ["orphan"]
    registered = await relay.register(key, "o", "ws_CO_EARLY", 25)
    assert registered["status"] == "completed"
    assert registered["transactionId"] == "TKL7654321"
    feed = (await relay.client.get("/api/v1/results", headers=auth(key))).json()
    assert [item["order_id"] for item in feed["items"]] == ["o"]


async def test_an_early_callback_with_the_wrong_amount_is_an_anomaly_when_registered(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.callback(path, stk_callback_bytes("ws_CO_EARLY2", amount=5))
    registered = await relay.register(key, "o", "ws_CO_EARLY2", 500)
    assert (registered["status"], registered["anomaly"]) == ("pending", "amount_mismatch")


async def test_a_later_contradicting_result_is_an_anomaly_never_a_flip(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_FLIP", 10)
    await relay.callback(path, stk_callback_bytes("ws_CO_FLIP", amount=10, receipt="TKL0000001"))
    await relay.callback(path, stk_callback_bytes("ws_CO_FLIP", result_code=1032))
    status = await relay.status(key, "o")
    assert status["status"] == "completed"
    assert status["transactionId"] == "TKL0000001"
    assert status["anomaly"] == "contradicting_result"
    assert [r["status"] for r in await raw_rows(relay)] == ["applied", "contradicting"]
    feed = (await relay.client.get("/api/v1/results", headers=auth(key))).json()
    assert [item["kind"] for item in feed["items"]] == ["result", "anomaly"]


async def test_a_callback_on_another_tills_path_does_not_settle_this_tills_payment(
    relay: InProcessRelay,
) -> None:
    key_a, _ = await relay.create_till("a")
    _, path_b = await relay.create_till("b")
    await relay.register(key_a, "o", "ws_CO_X", 10)
    await relay.callback(path_b, stk_callback_bytes("ws_CO_X", amount=10))
    assert (await relay.status(key_a, "o"))["status"] == "pending"
    assert [r["status"] for r in await raw_rows(relay)] == ["wrong_till"]


async def test_a_selftest_callback_is_recorded_as_a_selftest_for_its_till_only(relay: InProcessRelay) -> None:
    key_a, path_a = await relay.create_till("a")
    key_b, _ = await relay.create_till("b")
    checkout = "ws_CO_SELFTEST_abc123"
    assert (await relay.client.get(f"/api/v1/selftest/{checkout}", headers=auth(key_a))).status_code == 404
    await relay.callback(path_a, stk_callback_bytes(checkout, amount=1))
    found = await relay.client.get(f"/api/v1/selftest/{checkout}", headers=auth(key_a))
    assert found.status_code == 200
    assert found.json()["received_at"] == relay.clock.now.isoformat()
    assert (await relay.client.get(f"/api/v1/selftest/{checkout}", headers=auth(key_b))).status_code == 404
    assert await count(relay, result_table) == 0
    assert await count(relay, selftest_table) == 1


async def test_with_the_allow_list_on_a_callback_from_elsewhere_is_kept_but_not_applied(
    app_factory: Any,
) -> None:
    relay = await app_factory(ip_allowlist_enabled=True)
    key, path = await relay.create_till("front")
    await relay.register(key, "o", SEED_CHECKOUT_ID)
    await relay.callback(path, SEED_CURL)
    assert (await relay.status(key, "o"))["status"] == "pending"
    assert [r["status"] for r in await raw_rows(relay)] == ["forbidden_source"]


async def test_a_query_only_pending_code_in_a_callback_is_not_a_result(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_4999", 10)
    await relay.callback(path, stk_callback_bytes("ws_CO_4999", result_code="4999"))
    assert (await relay.status(key, "o"))["status"] == "pending"
    assert [r["status"] for r in await raw_rows(relay)] == ["not_final"]


def test_the_fixture_folder_is_where_the_tests_expect_it() -> None:
    assert Path(FIXTURES, "callback_seed_curl.json").exists()


async def test_the_tokenised_path_is_stored_whole_and_only_post_is_taken(relay: InProcessRelay) -> None:
    _, path = await relay.create_till("front")
    await relay.callback(path, SEED_CURL)
    [raw] = await raw_rows(relay)
    assert raw["path"] == path
    assert raw["token"] == path.rsplit("/", 1)[1]
    assert (await relay.client.get(path)).status_code == 405
    assert (await relay.client.get(SEED_PATH)).status_code == 405
    assert (await relay.client.post("/api/v1/callbacks/stk/", content=SEED_CURL)).status_code == 404
    assert (await relay.client.post(path + "/extra", content=SEED_CURL)).status_code == 404


async def test_a_callback_whose_processing_fails_is_still_stored_raw_with_the_error_and_acknowledged(
    relay: InProcessRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_OK", 10)
    real_decide = intake_module._decide

    def failing_decide(unit: Any, item: Any, raw_id: int, parsed: Any, till_id: Any) -> Any:
        if getattr(parsed, "checkout_request_id", "") == "ws_CO_BUG":
            raise RuntimeError("a bug in the relay")
        return real_decide(unit, item, raw_id, parsed, till_id)

    monkeypatch.setattr(intake_module, "_decide", failing_decide)
    await asyncio.gather(
        relay.callback(path, stk_callback_bytes("ws_CO_BUG", amount=10)),
        relay.callback(path, stk_callback_bytes("ws_CO_OK", amount=10)),
    )
    rows = {r["status"]: r for r in await raw_rows(relay)}
    assert set(rows) == {"failed", "applied"}
    assert "a bug in the relay" in rows["failed"]["error"]
    assert b"ws_CO_BUG" in rows["failed"]["body"]
    assert (await relay.status(key, "o"))["status"] == "completed"


async def test_a_callback_that_cannot_be_stored_is_not_acknowledged(
    relay: InProcessRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(self: Database, fn: Any) -> Any:
        raise OSError("disk gone")

    monkeypatch.setattr(Database, "write", database_down)
    answer = await relay.client.post(SEED_PATH, content=SEED_CURL)
    assert answer.status_code == 503
    assert answer.json()["ResultCode"] != 0


async def test_an_amount_too_big_for_the_database_is_an_anomaly_not_a_lost_result(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_HUGE", 10)
    body = stk_callback_bytes("ws_CO_HUGE", amount=10).replace(b'"Value": 10}', b'"Value": 1e30}')
    assert b"1e30" in body
    await relay.callback(path, body)
    status = await relay.status(key, "o")
    assert (status["status"], status["anomaly"]) == ("pending", "amount_mismatch")
    assert [r["status"] for r in await raw_rows(relay)] == ["applied"]


@pytest.mark.parametrize(
    "field, value",
    [("Amount", "1e999999999"), ("PhoneNumber", "1e999999999"), ("ResultCode", "1e999999999")],
)
def test_a_number_with_a_huge_exponent_is_parsed_at_once(field: str, value: str) -> None:
    # int(Decimal("1e999999999")) builds a billion-digit integer: minutes of CPU inside the writer's
    # transaction, with every other callback waiting unacknowledged behind it.
    body = json.loads(stk_callback_bytes("ws_CO_EXP", amount=10))
    stk = body["Body"]["stkCallback"]
    if field == "ResultCode":
        stk["ResultCode"] = "@@"
    else:
        next(i for i in stk["CallbackMetadata"]["Item"] if i["Name"] == field)["Value"] = "@@"
    text = json.dumps(body).replace('"@@"', value)
    # In a child process: the conversion holds the GIL, so a thread could not be timed out.
    script = (
        "import sys\n"
        "from daraja_core.callback import CallbackParseError, parse_stk_callback\n"
        "try:\n"
        "    parse_stk_callback(sys.stdin.read()).amount_kes\n"
        "except CallbackParseError:\n"
        "    pass\n"
    )
    try:
        subprocess.run(
            [sys.executable, "-c", script],
            input=text,
            text=True,
            timeout=10,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired:
        pytest.fail("parsing did not finish within 10 s")
