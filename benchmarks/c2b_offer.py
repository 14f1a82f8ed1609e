"""A shop's C2B payments reaching its tills: one shop, 4 tills, 50 payments a minute (issue 10).

Each till holds its feed long-poll (`/api/v1/results?after=N&wait=30`) on its own connection, as the till's
engine does. A sender POSTs a Daraja C2B confirmation (docs/daraja.md §6) for the shop's till number every
60/rate seconds to the shop's tokenised confirmation URL.

- offer: from the confirmation's HTTP 200 (stored and committed by then) to each till's feed long-poll
  delivering that TransID (p50/p95/p99 over payments x tills). A poll may answer a little before the 200
  reaches the sender, hence values just under 0.
- claim race: once every till has seen a payment, two tills picked at random claim it at the same moment
  for two different sales: exactly one must win (200) and the other be told which sale has it (409 naming
  the winner). Every round is checked; `races_wrong` counts the rounds that were not.
- missed: payments some till never saw within 10 s.

The relay runs as its own process (`mpesa-relay serve`, a SQLite file in a temporary folder, log level
warning) so its CPU is its own (read from /proc).

Run: `.venv/bin/python benchmarks/c2b_offer.py [--rate 50] [--duration 60] [--tills 4]`. Prints a summary and
writes benchmarks/results/c2b_offer.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from long_poll_scale import cpu_seconds, percentiles, start_relay  # noqa: E402

from daraja_core.simulator.c2b_bodies import BUY_GOODS, C2BPaymentFacts, c2b_body  # noqa: E402

TILL_NUMBER = "5123456"
PAYER = "254708374149"
SEEN_TIMEOUT_S = 10.0


def relay_command(folder: Path, database_url: str, *args: str) -> str:
    """Run an `mpesa-relay` admin command against the database; its last output line."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from relay.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def confirmation(index: int, amount_kes: int) -> bytes:
    facts = C2BPaymentFacts(
        trans_id=f"UL2B{index:06d}",
        transaction_type=BUY_GOODS,
        paid_at=datetime.now(UTC),
        amount_kes=amount_kes,
        shortcode=TILL_NUMBER,
        bill_ref="",
        msisdn=PAYER,
    )
    return json.dumps(c2b_body(facts, version="v2")).encode()


class Run:
    def __init__(self, tills: dict[str, str]) -> None:
        self.tills = tills
        self.acked: dict[str, float] = {}
        self.seen: dict[str, dict[str, float]] = {name: {} for name in tills}
        self.arrived = asyncio.Event()
        self.stopping = False
        self.poll_errors = 0


async def feed_loop(run: Run, client: httpx.AsyncClient, name: str) -> None:
    key = run.tills[name]
    after = 0
    while not run.stopping:
        answer = await client.get(
            f"/api/v1/results?after={after}&wait=30", headers={"Authorization": f"Bearer {key}"}
        )
        now = time.perf_counter()
        if answer.status_code != 200:
            run.poll_errors += 1
            continue
        page = answer.json()
        for item in page["items"]:
            if item["kind"] == "c2b" and item["c2b"]["claimed_by"] is None:
                run.seen[name].setdefault(item["c2b"]["trans_id"], now)
        after = page["next_after"]
        run.arrived.set()


async def seen_by_all(run: Run, trans_id: str) -> bool:
    deadline = time.perf_counter() + SEEN_TIMEOUT_S
    while not all(trans_id in seen for seen in run.seen.values()):
        if time.perf_counter() > deadline:
            return False
        run.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.arrived.wait(), timeout=0.5)
    return True


async def race(client: httpx.AsyncClient, run: Run, trans_id: str) -> bool:
    first, second = random.sample(sorted(run.tills), 2)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/c2b/{trans_id}/claim",
                json={"order_id": f"{till}-{trans_id}"},
                headers={"Authorization": f"Bearer {run.tills[till]}"},
            )
            for till in (first, second)
        )
    )
    codes = sorted(answer.status_code for answer in answers)
    if codes != [200, 409]:
        return False
    winner = next(a for a in answers if a.status_code == 200).json()["claimed_by"]
    loser = next(a for a in answers if a.status_code == 409).json()
    return bool(
        loser.get("extra", {}).get("claimed_by") == winner
        and winner in {f"{first}-{trans_id}", f"{second}-{trans_id}"}
    )


async def load(port: int, path: str, tills: dict[str, str], rate: float, duration_s: float) -> dict[str, Any]:
    run = Run(tills)
    limits = httpx.Limits(max_connections=len(tills) + 8, max_keepalive_connections=len(tills) + 8)
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=40, limits=limits) as polls,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as sender,
    ):
        pollers = [asyncio.create_task(feed_loop(run, polls, name)) for name in tills]
        await asyncio.sleep(0.5)  # the long-polls are parked before the first payment
        count = max(1, int(rate * duration_s / 60))
        gap_s = 60 / rate
        missed = 0
        races_wrong = 0
        latencies: list[float] = []
        started = time.perf_counter()
        for index in range(count):
            due = started + index * gap_s
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            trans_id = f"UL2B{index:06d}"
            answer = await sender.post(path, content=confirmation(index, 100 + index % 7 * 50))
            run.acked[trans_id] = time.perf_counter()
            if answer.status_code != 200 or answer.json().get("ResultCode") not in (0, "0"):
                raise RuntimeError(
                    f"confirmation {trans_id} not acknowledged: {answer.status_code} {answer.text}"
                )
            if not await seen_by_all(run, trans_id):
                missed += 1
                continue
            latencies.extend(run.seen[name][trans_id] - run.acked[trans_id] for name in tills)
            if not await race(sender, run, trans_id):
                races_wrong += 1
        run.stopping = True
        for poller in pollers:
            poller.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
    return {
        "payments": count,
        "offer": percentiles(latencies),
        "missed": missed,
        "races": count - missed,
        "races_wrong": races_wrong,
        "poll_errors": run.poll_errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="C2B payments per minute")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of payments")
    parser.add_argument("--tills", type=int, default=4)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="c2b-offer-"))
    database_url = f"sqlite+aiosqlite:///{folder / 'relay.db'}"
    relay_command(folder, database_url, "migrate")
    tills = {
        f"lane-{n}": relay_command(folder, database_url, "create-till-key", f"lane-{n}")
        for n in range(options.tills)
    }
    relay_command(folder, database_url, "create-shop", "duka", TILL_NUMBER)
    for name in tills:
        relay_command(folder, database_url, "add-till-to-shop", "duka", name)
    urls = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from relay.cli import main; sys.exit(main(sys.argv[1:]))",
            "c2b-token",
            "duka",
        ],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = next(word for word in urls.split() if word.endswith("/confirmation"))
    process, port = start_relay(ROOT, database_url, folder)
    try:
        cpu_before = cpu_seconds(process.pid)
        wall_before = time.perf_counter()
        result = asyncio.run(load(port, path, tills, options.rate, options.duration))
        cpu_percent = (cpu_seconds(process.pid) - cpu_before) / (time.perf_counter() - wall_before) * 100
    finally:
        process.terminate()
        process.wait(timeout=30)
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        "tills": options.tills,
        "rate_per_min": options.rate,
        "relay_cpu_percent_of_one_core": round(cpu_percent, 1),
        **result,
    }
    print(json.dumps(summary, indent=2))
    out = ROOT / "benchmarks" / "results" / "c2b_offer.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if result["missed"] == 0 and result["races_wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
