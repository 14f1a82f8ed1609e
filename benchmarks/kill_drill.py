"""The crash drill of tests/relay/test_drills.py, longer: `mpesa-relay serve` under load from a few senders is
SIGKILLed at random moments and restarted, again and again; on PostgreSQL its connections are also cut
(pg_terminate_backend) while it serves.

Counts: callbacks acknowledged (HTTP 200), acknowledged but missing after the restarts (must be 0), applied
twice (must be 0), acknowledged but not applied (must be 0), refused (non-2xx or no answer: never lost, the
sender knows), and seconds from each restart to /readyz answering.

Run: `.venv/bin/python benchmarks/kill_drill.py [--kills 5] [--pg-url postgresql+asyncpg://…/empty_db]`.
Prints a summary and writes benchmarks/results/kill_drill.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relay.db import Database  # noqa: E402
from relay.models import payment_table  # noqa: E402
from tests.relay.drill_support import Load, RelayProcess, prepare, stored_results  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "kill_drill.json"


async def drill(database: str, database_url: str, workdir: Path, kills: int, cuts: int) -> dict[str, Any]:
    till, ids = await prepare(database_url, payments=60_000)
    relay = RelayProcess(database_url, workdir)
    relay.start()
    ready_after: list[float] = [round(await relay.wait_ready(120), 2)]
    load = Load(relay.base_url, till.callback_path, ids)
    load.start()
    cut = 0
    try:
        for _ in range(kills):
            await load.until_acknowledged(random.randint(200, 2000), timeout_s=300)
            await asyncio.sleep(random.uniform(0, 0.05))
            relay.kill()
            relay.start()
            ready_after.append(round(await relay.wait_ready(120), 2))
        if cuts and database == "postgresql":
            name = database_url.rsplit("/", 1)[1]
            admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
            try:
                for _ in range(cuts):
                    await load.until_acknowledged(random.randint(200, 1000), timeout_s=300)
                    cut += len(
                        await admin.fetch(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = $1 AND pid <> pg_backend_pid()",
                            name,
                        )
                    )
            finally:
                await admin.close()
        await load.until_acknowledged(200, timeout_s=300)
    finally:
        await load.stop()
        relay.stop()
    results, raws = await stored_results(database_url)
    paid = sa.select(payment_table.c.checkout_request_id).where(payment_table.c.status == "completed")
    db = Database(database_url)
    try:
        completed = set(await db.read(lambda c: c.execute(paid).scalars().all()))
    finally:
        await db.dispose()
    acknowledged = set(load.acknowledged)
    return {
        "database": database,
        "kills": kills,
        "connections_cut": cut,
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged - set(results)),
        "applied_twice": sum(1 for statuses in raws.values() if statuses.count("applied") > 1)
        + sum(1 for count in results.values() if count > 1),
        "acknowledged_not_completed": len(acknowledged - completed),
        "refused": {str(code): count for code, count in sorted(load.refused.items())},
        "ready_after_start_s": ready_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--cuts", type=int, default=5, help="connection cuts (PostgreSQL)")
    parser.add_argument("--pg-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'relay.db'}"
        runs.append(asyncio.run(drill("sqlite", url, Path(folder), args.kills, 0)))
    if args.pg_url:
        with tempfile.TemporaryDirectory() as folder:
            runs.append(asyncio.run(drill("postgresql", args.pg_url, Path(folder), args.kills, args.cuts)))
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for entry in runs:
        print(
            f"{entry['database']}: {entry['kills']} kills, {entry['connections_cut']} connections cut: "
            f"{entry['acknowledged']} acknowledged, {entry['lost']} lost, "
            f"{entry['applied_twice']} applied twice, "
            f"{entry['acknowledged_not_completed']} not applied; refused {entry['refused']}; "
            f"ready after {entry['ready_after_start_s']} s"
        )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
