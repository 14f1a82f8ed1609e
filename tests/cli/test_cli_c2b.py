"""`mpesa-till c2b list` and `c2b claim` as real processes: two tills of one shop, the simulator paying the
shop's till number, the relay under uvicorn (docs/daraja.md §6)."""

from __future__ import annotations

import json
from pathlib import Path

from pos_app.cli import EXIT_OK, EXIT_REFUSED
from tests.cli.conftest import run_cli
from tests.cli.test_cli import remote_env
from tests.engine.conftest import Rig
from tests.relay.c2b_support import customer_pays, make_shop, register_relay
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

TILL_NUMBER = "5123456"


async def test_one_till_claims_a_payment_to_the_till_number_and_the_other_is_told_which_sale_has_it(
    clean_env: dict[str, str], simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front", "back"])
    await register_relay(simulator, relay_server, shop.ref)
    envs = {}
    for name in ("front", "back"):
        home = tmp_path / name
        home.mkdir()
        rig = Rig(simulator, relay_server, shop.keys[name], "", home)
        envs[name] = {**remote_env(clean_env, rig), "MPESA_TILL_HOME": str(home)}
    other = (await customer_pays(simulator, TILL_NUMBER, 200))["TransID"]
    trans_id = (await customer_pays(simulator, TILL_NUMBER, 350))["TransID"]

    listed = await run_cli("c2b", "list", "--amount", "350", "--json", env=envs["front"])
    assert listed.code == EXIT_OK, listed.stderr
    offers = json.loads(listed.last_line)
    assert [(o["trans_id"], o["amount_kes"], o["matches_sale"], o["phone"]) for o in offers] == [
        (trans_id, 350, True, "07** *** 149"),
        (other, 200, False, "07** *** 149"),
    ]
    text = await run_cli("c2b", "list", "--amount", "350", env=envs["back"])
    assert text.stdout.splitlines()[0].startswith(f"{trans_id}  KES     350  DEMO")
    assert text.stdout.splitlines()[0].endswith("<- the sale's amount")

    claimed = await run_cli(
        "c2b", "claim", trans_id.lower(), "--sale", "SFRONT1", "--json", env=envs["front"]
    )
    assert claimed.code == EXIT_OK, claimed.stderr
    answer = json.loads(claimed.last_line)
    assert (answer["status"], answer["method"], answer["receipt"], answer["sale_id"]) == (
        "paid",
        "c2b",
        trans_id,
        "SFRONT1",
    )

    refused = await run_cli("c2b", "claim", trans_id, "--sale", "SBACK1", env=envs["back"])
    assert refused.code == EXIT_REFUSED
    assert (
        refused.stderr.strip() == f"Refused: KES 350 from DEMO ({trans_id}) is already taken by sale SFRONT1."
    )

    left = await run_cli("c2b", "list", "--json", env=envs["back"])
    assert [o["trans_id"] for o in json.loads(left.last_line)] == [other]
    history = await run_cli("history", "--json", env=envs["front"])
    [row] = json.loads(history.last_line)
    assert (row["method"], row["receipt"], row["phone"], row["amount_kes"]) == (
        "c2b",
        trans_id,
        "07** *** 149",
        350,
    )
