"""`mpesa-relay serve` in a process of its own, for the crash and fault drills: start it, SIGKILL it,
start it again on the same port and database, and drive callback load at it from a few senders.

The relay's log goes to a file, never a pipe: under load it writes a line per callback, and a pipe nobody
reads would fill and stall the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from relay.db import Database
from relay.migrate import upgrade
from relay.models import payment_table, raw_table, result_table, utcnow
from relay.simulate import stk_callback_bytes
from relay.tills import TillRef, create_till_key

ROOT = Path(__file__).resolve().parents[2]
PHONE = "254708374149"
SERVE = [sys.executable, "-c", "from relay.cli import main; raise SystemExit(main())", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RelayProcess:
    """One `mpesa-relay serve` at a time on a fixed port; `kill()` is SIGKILL, `start()` starts anew."""

    def __init__(self, database_url: str, workdir: Path, **env: str) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "relay.log"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = dict(os.environ, DATABASE_URL=self.database_url, PYTHONPATH=str(ROOT), **self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*SERVE, "--port", str(self.port), "--log-level", "warning"],
                cwd=self.workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.starts += 1

    async def wait_ready(self, timeout_s: float = 30.0) -> float:
        """Seconds until /readyz answers 200."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while loop.time() - started < timeout_s:
                assert self.process is not None and self.process.poll() is None, self.log()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return loop.time() - started
                await asyncio.sleep(0.02)
        raise AssertionError(f"the relay was not ready within {timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def prepare(database_url: str, payments: int) -> tuple[TillRef, list[str]]:
    """A till and `payments` pending payments registered for it: (till, their CheckoutRequestIDs)."""
    await upgrade(database_url)
    db = Database(database_url)
    try:
        till, _key = await db.write(lambda c: create_till_key(c, "drill"))
        ids = [f"ws_CO_DRILL_{n:06d}" for n in range(payments)]

        def register_all(connection: sa.Connection) -> None:
            # One insert, as registrations would leave them (relay.payments.register_payment, one by one,
            # takes minutes for thousands on PostgreSQL).
            now = utcnow()
            rows = [
                {
                    "till_id": till.id,
                    "order_id": f"order-{n}",
                    "checkout_request_id": cid,
                    "amount_kes": 1,
                    "phone": PHONE,
                    "status": "pending",
                    "reason": "",
                    "registered_at": now,
                    "updated_at": now,
                }
                for n, cid in enumerate(ids)
            ]
            connection.execute(sa.insert(payment_table), rows)

        await db.write(register_all)
    finally:
        await db.dispose()
    return till, ids


@dataclass
class Load:
    """Senders POSTing one paid callback per CheckoutRequestID, each ID once, as Safaricom does."""

    base_url: str
    path: str
    ids: list[str]
    acknowledged: list[str] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)  # status → count; 0 = no answer at all
    # Every answer: (loop time sent, loop time answered, status; 0 = no answer at all).
    answers: list[tuple[float, float, int]] = field(default_factory=list)
    _next: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def _take(self) -> str | None:
        if self._stop.is_set() or self._next >= len(self.ids):
            return None
        self._next += 1
        return self.ids[self._next - 1]

    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while (cid := self._take()) is not None:
                body = stk_callback_bytes(cid, result_code=0, amount=1, receipt=f"R{cid[-8:]}X", phone=PHONE)
                sent = loop.time()
                try:
                    answer = await client.post(self.path, content=body)
                except httpx.TransportError:
                    self.answers.append((sent, loop.time(), 0))
                    self.refused[0] = self.refused.get(0, 0) + 1
                    await asyncio.sleep(0.05)  # the relay is down: do not spin
                    continue
                self.answers.append((sent, loop.time(), answer.status_code))
                if answer.status_code == 200:
                    self.acknowledged.append(cid)
                else:
                    self.refused[answer.status_code] = self.refused.get(answer.status_code, 0) + 1

    def start(self, senders: int = 4) -> None:
        self._tasks = [asyncio.create_task(self._sender()) for _ in range(senders)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def until_acknowledged(self, more: int, timeout_s: float = 30.0) -> None:
        """Wait until `more` further callbacks have been acknowledged."""
        target = len(self.acknowledged) + more
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout_s
        while len(self.acknowledged) < target:
            assert loop.time() < give_up, f"only {len(self.acknowledged)} of {target} acknowledged"
            await asyncio.sleep(0.005)

    async def until_refused(self, more: int, timeout_s: float = 30.0) -> None:
        """Wait until `more` further callbacks have been refused (any status, or no answer)."""
        target = sum(self.refused.values()) + more
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout_s
        while sum(self.refused.values()) < target:
            assert loop.time() < give_up, f"only {self.refused} refused, waiting for {target}"
            await asyncio.sleep(0.005)


async def stored_results(database_url: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """(stk_result rows per CheckoutRequestID, raw statuses per CheckoutRequestID)."""
    db = Database(database_url)
    try:

        def read(connection: sa.Connection) -> tuple[dict[str, int], dict[str, list[str]]]:
            results: dict[str, int] = {}
            for (cid,) in connection.execute(sa.select(result_table.c.checkout_request_id)):
                results[cid] = results.get(cid, 0) + 1
            raws: dict[str, list[str]] = {}
            for cid, status in connection.execute(
                sa.select(raw_table.c.checkout_request_id, raw_table.c.status)
            ):
                raws.setdefault(cid, []).append(status)
            return results, raws

        return await db.read(read)
    finally:
        await db.dispose()


async def completed_ids(database_url: str) -> set[str]:
    paid = sa.select(payment_table.c.checkout_request_id).where(payment_table.c.status == "completed")
    db = Database(database_url)
    try:
        return set(await db.read(lambda c: c.execute(paid).scalars().all()))
    finally:
        await db.dispose()


async def check_acknowledged_stored_once(database_url: str, acknowledged: list[str], relay_log: str) -> None:
    """What every drill must leave: each acknowledged callback stored with its result and its payment
    completed, none set aside as failed, none stored or applied twice."""
    results, raws = await stored_results(database_url)
    done = set(acknowledged)
    # A callback set aside as failed is kept raw, unparsed (no CheckoutRequestID): none may be.
    assert raws.get(None, []) == [], relay_log  # type: ignore[call-overload]
    assert {cid: raws.get(cid) for cid in done - set(results)} == {}, relay_log  # lost
    assert {cid for cid, count in results.items() if count > 1} == set()
    assert {cid for cid, statuses in raws.items() if statuses.count("applied") > 1} == set()
    not_completed = done - await completed_ids(database_url)
    assert not_completed == set(), [raws.get(cid) for cid in not_completed]
