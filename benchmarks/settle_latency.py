"""Settle latency of the till's payment engine.

A. With a callback: from the moment the relay accepts a callback (its HTTP 200 reaches the sender) to the
   moment the engine announces "paid" to its subscribers. >= 200 payments, 50 in flight at once. The relay
   (`mpesa-relay serve`, SQLite), the Daraja simulator (`mpesa-sim`) and "Safaricom" (this script with
   --safaricom, POSTing each paid callback and timing the relay's 200) each run as their own process, so
   only the till's own work shares the measured event loop; times are CLOCK_MONOTONIC, common to all
   processes. Simulator scenario 254711000005 never sends a callback itself.
B. With no callback ever (scenario 005), production timings (8 s silence window, then the backed-off,
   jittered STK Query schedule): how many STK Queries each payment needs, and how long after Daraja knew
   the result (push + the simulator's customer delay) the engine announced it. Also over a range of
   customer delays, for the shape of the schedule.

Run: `.venv/bin/python benchmarks/settle_latency.py [--payments 200] [--in-flight 50]`. Prints a summary and
writes benchmarks/results/settle_latency.json. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE  # noqa: E402
from daraja_core.serve import BackgroundServer  # noqa: E402
from daraja_core.simulator import SimulatorSettings, create_app  # noqa: E402
from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET  # noqa: E402
from pos_app.config import TillConfig, Timings  # noqa: E402
from pos_app.engine.service import TillService  # noqa: E402
from pos_app.engine.views import AttemptView  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "settle_latency.json"
NO_CALLBACK_PHONE = "0711000005"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class SimulatorProcess:
    """The Daraja simulator as its own process (`mpesa-sim`): Daraja is remote for a real till, so its work
    must not share the engine's event loop during the measurement."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        simulator = str(Path(sys.executable).with_name("mpesa-sim"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MPESA_")}
        self.process = subprocess.Popen(
            [simulator, "--port", str(self.port), *self.options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base_url + "/simulator/log", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the simulator did not start")

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


class Safaricom:
    """Safaricom's side in its own process: POSTs each callback and reports when it was sent and when the
    relay's 200 came back, on CLOCK_MONOTONIC (shared by all processes on Linux). Kept out of the till's
    process so its HTTP work does not load the event loop being measured."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._pending: dict[int, asyncio.Future[tuple[float, float]]] = {}
        self._next = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls) -> Safaricom:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--safaricom",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            answer = json.loads(line)
            self._pending.pop(answer["id"]).set_result((answer["sent"], answer["accepted"]))

    async def post(self, url: str, body: dict[str, Any]) -> tuple[float, float]:
        assert self._process.stdin is not None
        self._next += 1
        future: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        self._process.stdin.write((json.dumps({"id": self._next, "url": url, "body": body}) + "\n").encode())
        await self._process.stdin.drain()
        return await future

    async def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()
        self._reader.cancel()


async def safaricom_process() -> None:
    """`settle_latency.py --safaricom`: read {id, url, body} lines, POST each at once, answer the times."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), trust_env=False) as client:

        async def one(request: dict[str, Any]) -> None:
            sent = time.monotonic()
            answer = await client.post(request["url"], json=request["body"])
            accepted = time.monotonic()
            if answer.status_code != 200:
                raise RuntimeError(f"relay answered {answer.status_code}")
            sys.stdout.write(json.dumps({"id": request["id"], "sent": sent, "accepted": accepted}) + "\n")
            sys.stdout.flush()

        while line := await reader.readline():
            task = asyncio.create_task(one(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)


class RelayProcess:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'relay.db'}"}
        self.process: subprocess.Popen[bytes] | None = None
        self.key = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        relay = str(Path(sys.executable).with_name("mpesa-relay"))
        subprocess.run([relay, "migrate"], env=self.env, check=True, capture_output=True)
        made = subprocess.run(
            [relay, "create-till-key", "bench-till"], env=self.env, check=True, capture_output=True, text=True
        )
        self.key = made.stdout.strip().splitlines()[-1].strip()
        self.process = subprocess.Popen(
            [relay, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the relay did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def paid_callback(view: AttemptView, receipt: str) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": view.merchant_request_id,
                "CheckoutRequestID": view.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": view.amount_kes},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20261122120000},
                        {"Name": "PhoneNumber", "Value": int(view.phone)},
                    ]
                },
            }
        }
    }


def receipt_for(index: int) -> str:
    """A unique 10-character receipt (docs/daraja.md §7 shape)."""
    return f"TKB{index:04d}" + "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))


async def scenario_a(payments: int, in_flight: int, folder: Path) -> dict[str, Any]:
    await asyncio.to_thread(folder.mkdir, parents=True)
    relay = RelayProcess(folder)
    relay.start()
    simulator = SimulatorProcess("--min-query-interval", "0")
    simulator.start()
    try:
        async with httpx.AsyncClient() as probe:
            till_info = (
                await probe.get(
                    relay.base_url + "/api/v1/till", headers={"Authorization": f"Bearer {relay.key}"}
                )
            ).json()
        # No STK Query during the measurement: only the relay's answer is timed.
        timings = Timings(relay_silence_s=120.0, wait_deadline_s=180.0)
        config = TillConfig(
            mode="remote",
            home=folder / "till",
            consumer_key=SIM_CONSUMER_KEY,
            consumer_secret=SIM_CONSUMER_SECRET,
            shortcode=SANDBOX_SHORTCODE,
            passkey=SANDBOX_PASSKEY,
            relay_url=relay.base_url,
            relay_key=relay.key,
            api_base_url=simulator.base_url,
            callback_url=relay.base_url + till_info["callback_path"],
            timings=timings,
        )
        till = await TillService.open(config)
        announced: dict[str, float] = {}
        waiters: dict[str, asyncio.Future[float]] = {}

        def on_change(view: AttemptView) -> None:
            if view.state == "paid" and view.attempt_id not in announced:
                announced[view.attempt_id] = time.monotonic()
                future = waiters.get(view.attempt_id)
                if future is not None and not future.done():
                    future.set_result(announced[view.attempt_id])

        till.subscribe(on_change)
        limit = asyncio.Semaphore(in_flight)
        latencies_ms: list[float] = []
        from_send_ms: list[float] = []
        safaricom = await Safaricom.start()

        async def one(index: int) -> None:
            async with limit:
                view = await till.charge(10 + index % 50, NO_CALLBACK_PHONE)
                assert view.state == "prompt_sent", view
                waiters[view.attempt_id] = asyncio.get_running_loop().create_future()
                await asyncio.sleep(0.3 + random.random() * 0.2)  # registered, and the customer types the PIN
                sent, accepted = await safaricom.post(
                    config.callback_url, paid_callback(view, receipt_for(index))
                )
                done = await asyncio.wait_for(waiters[view.attempt_id], 30)
                latencies_ms.append((done - accepted) * 1000)
                from_send_ms.append((done - sent) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(payments)))
        elapsed = time.perf_counter() - started
        await safaricom.stop()
        await till.close()
    finally:
        await simulator.stop()
        relay.stop()
    return {
        "payments": payments,
        "in_flight": in_flight,
        "wall_s": round(elapsed, 2),
        "from_accept_ms": {
            "p50": round(statistics.median(latencies_ms), 1),
            "p95": round(percentile(latencies_ms, 0.95), 1),
            "max": round(max(latencies_ms), 1),
            "min": round(min(latencies_ms), 1),
        },
        "from_send_ms": {
            "p50": round(statistics.median(from_send_ms), 1),
            "p95": round(percentile(from_send_ms, 0.95), 1),
            "max": round(max(from_send_ms), 1),
        },
    }


async def scenario_b(customer_delays_s: list[float], per_delay: int, folder: Path) -> list[dict[str, Any]]:
    """No callback ever: STK Query alone, production timings."""
    rows = []
    for delay_s in customer_delays_s:
        simulator = BackgroundServer(
            create_app(SimulatorSettings(callback_delay_s=delay_s)), timeout_graceful_shutdown=1
        )
        await simulator.start()
        home = folder / f"b-{delay_s:g}"
        config = TillConfig(
            mode="query_only",
            home=home,
            consumer_key=SIM_CONSUMER_KEY,
            consumer_secret=SIM_CONSUMER_SECRET,
            shortcode=SANDBOX_SHORTCODE,
            passkey=SANDBOX_PASSKEY,
            api_base_url=simulator.base_url,
            timings=replace(Timings()),  # production defaults
        )
        till = await TillService.open(config)
        try:

            async def one(till: TillService = till, delay_s: float = delay_s) -> dict[str, float]:
                before = time.perf_counter()
                view = await till.charge(100, NO_CALLBACK_PHONE)
                pushed_at = (before + time.perf_counter()) / 2
                final = await till.wait_settled(view.attempt_id, 200)
                settled = time.perf_counter()
                return {
                    "state": final.state,
                    "lag_after_daraja_knew_s": settled - (pushed_at + delay_s),
                    "checkout": view.checkout_request_id or "",
                }

            results = await asyncio.gather(*(one() for _ in range(per_delay)))
            async with httpx.AsyncClient() as client:
                log = (await client.get(simulator.base_url + "/simulator/log")).json()
            for result in results:
                queries = sum(
                    1
                    for request in log["requests"]
                    if request["path"] == QUERY_PATH
                    and request.get("checkout_request_id") == result["checkout"]
                )
                result["queries"] = queries
            rows.append(
                {
                    "customer_delay_s": delay_s,
                    "payments": per_delay,
                    "states": sorted({str(r["state"]) for r in results}),
                    "queries_max": max(int(r["queries"]) for r in results),
                    "queries_mean": round(statistics.mean(float(r["queries"]) for r in results), 2),
                    "lag_after_daraja_knew_s_max": round(
                        max(float(r["lag_after_daraja_knew_s"]) for r in results), 2
                    ),
                    "lag_after_daraja_knew_s_mean": round(
                        statistics.mean(float(r["lag_after_daraja_knew_s"]) for r in results), 2
                    ),
                }
            )
        finally:
            await till.close()
            await simulator.stop()
    return rows


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--no-callback-payments", type=int, default=5)
    parser.add_argument("--customer-delays", default="3,10,20", help="seconds, comma-separated (B)")
    parser.add_argument(
        "--also",
        default="1:40,10:100",
        help="more A runs as IN_FLIGHT:PAYMENTS, comma-separated (one cashier = 1)",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("relay", "daraja_core", "httpx", "pos_app", "alembic", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)
    delays = [float(x) for x in args.customer_delays.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="settle-bench-") as temporary:
        folder = Path(temporary)
        a = await scenario_a(args.payments, args.in_flight, folder / "main")
        runs = [a]
        for spec in [x for x in args.also.split(",") if x]:
            in_flight, payments = (int(n) for n in spec.split(":"))
            runs.append(await scenario_a(payments, in_flight, folder / f"also-{in_flight}"))
        for run in runs:
            accept, send = run["from_accept_ms"], run["from_send_ms"]
            print(
                f"A. callback accepted → engine announces paid, {run['payments']} payments, "
                f"{run['in_flight']} in flight: p50 {accept['p50']} ms, p95 {accept['p95']} ms, "
                f"max {accept['max']} ms  (from the POST being sent: p50 {send['p50']} ms, "
                f"p95 {send['p95']} ms)"
            )
        b = await scenario_b(delays, args.no_callback_payments, folder)
        for row in b:
            print(
                f"B. no callback, customer answers after {row['customer_delay_s']:g} s: {row['states']}, "
                f"STK Queries max {row['queries_max']} (mean {row['queries_mean']}), settled at most "
                f"{row['lag_after_daraja_knew_s_max']} s after Daraja knew "
                f"(mean {row['lag_after_daraja_knew_s_mean']} s)"
            )
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "with_callback": a,
        "with_callback_other_concurrency": runs[1:],
        "no_callback_stk_query": b,
        "targets": {"p95_ms": 100, "no_callback_queries_max": 4, "no_callback_lag_s_max": 15},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--safaricom"]:
        asyncio.run(safaricom_process())
        sys.exit(0)
    sys.exit(asyncio.run(main()))
