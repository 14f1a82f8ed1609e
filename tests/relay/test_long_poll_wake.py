"""Which long-polls a commit wakes, and what idle long-polls cost, told by the hub's counters
(relay/notify.py): wakes, re-reads after waiting, and safety sweeps. No timing is asserted."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from relay.cli import main
from relay.db import Database
from relay.models import raw_table
from relay.notify import Changes, Hub, decode_payload, encode_payload, feed_key, status_key
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import auth, registration
from tests.support.relay_fixtures import RelayFactory


async def _until(condition: str, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (polling the hub, not the clock) until `check()` holds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout_s
    while not check():
        if loop.time() > give_up:
            raise TimeoutError(condition)
        await asyncio.sleep(0.01)


async def test_a_commit_wakes_its_orders_status_poll_and_its_tills_feed_poll_only(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay.service.SWEEP_S", 3600.0)  # only the commit's own notification wakes
    relay = await relay_factory()
    front_key, front_path = await relay.create_till("front")
    back_key, _ = await relay.create_till("back")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=15) as client:
        for order, checkout in (("a", "ws_CO_WAKE_A"), ("b", "ws_CO_WAKE_B")):
            await client.post(
                "/api/v1/payments", json=registration(order, checkout, 10), headers=auth(front_key)
            )
        status_a = asyncio.create_task(
            client.get("/api/v1/payments/a/status?wait=30", headers=auth(front_key))
        )
        status_b = asyncio.create_task(
            client.get("/api/v1/payments/b/status?wait=30", headers=auth(front_key))
        )
        feed = asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(front_key)))
        other_feed = asyncio.create_task(
            client.get("/api/v1/results?after=0&wait=30", headers=auth(back_key))
        )
        await relay.long_polls_waiting(4)
        hub = relay.hub
        wakes, rereads = hub.wakes, hub.rereads
        answer = await client.post(front_path, content=stk_callback_bytes("ws_CO_WAKE_A", amount=10))
        assert answer.status_code == 200
        # The commit is announced before the callback is acknowledged: exactly two waiters were woken.
        assert hub.wakes - wakes == 2
        assert (await status_a).json()["status"] == "completed"
        assert [item["order_id"] for item in (await feed).json()["items"]] == ["a"]
        assert hub.rereads - rereads == 2  # one database read each, for the two woken
        assert hub.waiting() == 2  # b's status poll and the other till's feed poll still wait
        assert not status_b.done() and not other_feed.done()
        await relay.stop()
        assert (await status_b).json()["status"] == "pending"
        assert (await other_feed).json()["items"] == []


async def test_idle_long_polls_are_not_read_again_while_they_wait(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay.service.SWEEP_S", 0.02)
    relay = await relay_factory()
    key, _ = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=15) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_IDLE", 10), headers=auth(key))
        polls = [
            asyncio.create_task(client.get("/api/v1/payments/o/status?wait=30", headers=auth(key))),
            asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(key))),
        ]
        await relay.long_polls_waiting(2)
        hub: Hub = relay.hub
        rereads, sweeps = hub.rereads, hub.sweeps
        await _until("five sweeps", lambda: hub.sweeps >= sweeps + 5)
        # Sweeps found nothing committed: nobody was woken, nobody read the database again.
        assert hub.rereads == rereads
        assert hub.waiting() == 2
        await relay.stop()
        assert [(await poll).status_code for poll in polls] == [200, 200]


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out, err=io.StringIO())
    return code, out.getvalue()


async def test_a_result_committed_without_a_notification_is_served_by_the_sweep(
    relay_factory: RelayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `mpesa-relay replay` on SQLite writes from its own process: no notification reaches the relay.
    monkeypatch.setattr("relay.service.SWEEP_S", 0.05)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    relay = await relay_factory(database_url=database_url, ip_allowlist_enabled=True)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=15) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_SWEEP", 10), headers=auth(key))
        await client.post(path, content=stk_callback_bytes("ws_CO_SWEEP", amount=10))  # refused source: kept
        status = asyncio.create_task(client.get("/api/v1/payments/o/status?wait=30", headers=auth(key)))
        feed = asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
        await relay.long_polls_waiting(2)
        db = Database(database_url)
        try:
            raw_id = await db.read(lambda c: c.execute(sa.select(raw_table.c.id)).scalar_one())
        finally:
            await db.dispose()
        monkeypatch.setenv("RELAY_IP_ALLOWLIST", "false")
        code, out = await asyncio.to_thread(_cli, "replay", str(raw_id))
        assert (code, "applied" in out) == (0, True)
        # Answered with the fresh result, woken by a sweep long before their 30 s wait is over.
        assert (await asyncio.wait_for(status, 10)).json()["status"] == "completed"
        assert [item["order_id"] for item in (await asyncio.wait_for(feed, 10)).json()["items"]] == ["o"]
    assert relay.hub.sweeps >= 1


def test_the_hub_wakes_the_keys_named_and_a_tills_every_key_for_a_bare_till_id() -> None:
    hub = Hub()
    keys = [status_key(1, "a"), status_key(1, "b"), feed_key(1), feed_key(2), status_key(2, "a")]
    with contextlib.ExitStack() as stack:
        events = {key: stack.enter_context(hub.subscription(key)) for key in keys}
        before = {1: hub.mark(1), 2: hub.mark(2)}
        hub.notify(Changes(feeds={1}, orders={(1, "a")}))
        assert {key for key, event in events.items() if event.is_set()} == {status_key(1, "a"), feed_key(1)}
        assert (hub.wakes, hub.mark(1) != before[1], hub.mark(2) == before[2]) == (2, True, True)
        # An older relay's payload names tills only: all of that till's long-polls look again.
        hub.notify(decode_payload("2"))
        assert {key for key, event in events.items() if event.is_set()} == {
            status_key(1, "a"),
            feed_key(1),
            feed_key(2),
            status_key(2, "a"),
        }
    assert hub.waiting() == 0


def test_a_notification_payload_round_trips_and_too_big_a_one_names_its_tills() -> None:
    changes = Changes(feeds={3}, orders={(3, "order, with a comma"), (4, "x")})
    assert decode_payload(encode_payload(changes)) == changes
    big = Changes(orders={(5, f"order-{n:05}") for n in range(2000)})
    payload = encode_payload(big)
    assert len(payload.encode()) < 8000
    assert decode_payload(payload) == Changes(tills={5})
