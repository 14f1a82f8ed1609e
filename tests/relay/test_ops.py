"""Operations: health, readiness, Prometheus metrics, the three alerts, structured logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.logs import JsonFormatter
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import SEED_CURL, Clock, InProcessRelay, auth

# 10:30 in Nairobi (UTC+3), inside the default business hours 08:00-20:00.
SHOP_MORNING = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
# 23:30 in Nairobi: outside business hours.
NIGHT = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)


async def test_healthz_and_readyz_answer_when_the_database_is_reachable(relay: InProcessRelay) -> None:
    assert (await relay.client.get("/healthz")).json() == {"status": "ok"}
    ready = await relay.client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "ok"})


async def test_metrics_count_callbacks_duplicates_parse_errors_and_settle_latency(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o1", "ws_CO_M1", 10)
    await relay.register(key, "o2", "ws_CO_M2", 10)
    relay.clock.now += timedelta(seconds=7)
    paid = stk_callback_bytes("ws_CO_M1", amount=10)
    await relay.callback(path, paid)
    await relay.callback(path, paid)
    await relay.callback(path, b"{broken")
    text = (await relay.client.get("/metrics")).text
    assert 'relay_callbacks_received_total{status="applied"} 1.0' in text
    assert 'relay_callbacks_received_total{status="duplicate"} 1.0' in text
    assert 'relay_callbacks_received_total{status="malformed"} 1.0' in text
    assert "relay_callback_duplicates_total 1.0" in text
    assert "relay_callback_parse_errors_total 1.0" in text
    assert "relay_pending_payments 1.0" in text
    assert "relay_settle_latency_seconds_count 1.0" in text
    assert 'relay_settle_latency_seconds_bucket{le="10.0"} 1.0' in text
    assert 'relay_settle_latency_seconds_bucket{le="5.0"} 0.0' in text
    assert "relay_callback_intake_seconds_count 3.0" in text


async def test_metrics_and_alerts_want_the_admin_token_when_one_is_set(app_factory: Any) -> None:
    relay = await app_factory(admin_token="s3cret-admin")
    assert (await relay.client.get("/metrics")).status_code == 401
    assert (await relay.client.get("/api/v1/alerts")).status_code == 401
    assert (await relay.client.get("/metrics", headers=auth("wrong"))).status_code == 401
    assert (await relay.client.get("/metrics", headers=auth("s3cret-admin"))).status_code == 200
    assert (await relay.client.get("/api/v1/alerts", headers=auth("s3cret-admin"))).status_code == 200
    assert (await relay.client.get("/healthz")).status_code == 200


async def alert_codes(relay: InProcessRelay) -> list[str]:
    answer = (await relay.client.get("/api/v1/alerts")).json()
    return [alert["code"] for alert in answer["alerts"]]


async def test_a_payment_pending_longer_than_five_minutes_raises_an_alert(app_factory: Any) -> None:
    clock = Clock(NIGHT)
    relay = await app_factory(clock=clock)
    key, _ = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_OLD", 10)
    clock.now += timedelta(minutes=4, seconds=59)
    assert await alert_codes(relay) == []
    clock.now += timedelta(seconds=2)
    assert await alert_codes(relay) == ["pending_too_long"]


async def test_no_callback_for_an_hour_in_business_hours_raises_an_alert(app_factory: Any) -> None:
    clock = Clock(SHOP_MORNING)
    relay = await app_factory(clock=clock)
    await relay.callback("/api/v1/payments/mpesa/callback", SEED_CURL)
    clock.now += timedelta(minutes=59)
    assert "no_recent_callback" not in await alert_codes(relay)
    clock.now += timedelta(minutes=2)
    assert "no_recent_callback" in await alert_codes(relay)


async def test_a_quiet_night_is_not_an_alert(app_factory: Any) -> None:
    relay = await app_factory(clock=Clock(NIGHT))
    assert await alert_codes(relay) == []


async def test_more_than_five_percent_callback_errors_raise_an_alert(app_factory: Any) -> None:
    relay = await app_factory(clock=Clock(NIGHT))
    _, path = await relay.create_till("front")
    for index in range(20):
        await relay.callback(path, stk_callback_bytes(f"ws_CO_E{index}", amount=10))
    await relay.callback(path, b"not json")
    assert await alert_codes(relay) == []  # 1 of 21: under 5 %
    await relay.callback(path, b"not json either")
    answer = (await relay.client.get("/api/v1/alerts")).json()
    assert [a["code"] for a in answer["alerts"]] == ["callback_errors"]
    assert answer["alerts"][0]["rate"] == round(2 / 22, 4)


async def test_callback_logs_are_json_lines_with_masked_phones_and_no_keys_or_tokens(
    relay: InProcessRelay, caplog: pytest.LogCaptureFixture
) -> None:
    key, path = await relay.create_till("front")
    caplog.set_level(logging.INFO, logger="relay")
    await relay.register(key, "o", "ws_CO_LOG", 10)
    paid = stk_callback_bytes("ws_CO_LOG", amount=10)
    await relay.callback(path, paid)
    await relay.callback(path, paid)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records if record.name == "relay"]
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == ["registered", "status_changed", "callback", "callback"]
    assert [e.get("status") for e in entries if e["message"] == "callback"] == ["applied", "duplicate"]
    text = "\n".join(lines)
    assert "254708374149" not in text
    assert "2547*****149" in text
    assert key not in text
    assert path.rsplit("/", 1)[1] not in text


async def test_readyz_says_503_when_the_database_does_not_answer(
    relay: InProcessRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay.db import Database

    async def unreachable(self: Database) -> None:
        raise ConnectionRefusedError("no database")

    monkeypatch.setattr(Database, "ping", unreachable)
    answer = await relay.client.get("/readyz")
    assert (answer.status_code, answer.json()["status"]) == (503, "unavailable")
