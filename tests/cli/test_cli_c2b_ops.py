"""`mpesa-till c2b register`, `c2b pull` and `c2b release` as real processes against the simulator and the
relay under uvicorn (docs/daraja.md §6): their words and exit codes."""

from __future__ import annotations

import json

from pos_app.cli_c2b import (
    EXIT_ALREADY_REGISTERED,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.cli.conftest import run_cli
from tests.cli.test_cli import remote_env
from tests.engine.conftest import Rig, RigFactory
from tests.engine.test_c2b_ops import CONFIRMATION_LOST, TILL_NUMBER, join_shop
from tests.relay.c2b_support import customer_pays
from tests.support.relay_fixtures import RunningRelay

PIN = "2468"


def env_for(clean_env: dict[str, str], rig: Rig) -> dict[str, str]:
    rig.home.mkdir(parents=True, exist_ok=True)
    return {**remote_env(clean_env, rig), "MPESA_TILL_HOME": str(rig.home)}


async def test_register_says_production_is_one_time_and_explains_500_003_1001(
    clean_env: dict[str, str], rig_factory: RigFactory, relay_server: RunningRelay
) -> None:
    rig = await rig_factory(c2b_register_once=True)
    env = env_for(clean_env, rig)
    alone = await run_cli("c2b", "register", "--json", env=env)
    assert alone.code == EXIT_USAGE
    assert "create-shop" in alone.stderr
    assert json.loads(alone.last_line)["status"] == "invalid"

    await join_shop(relay_server, "till-0")
    first = await run_cli("c2b", "register", "--json", env=env)
    assert first.code == EXIT_OK, first.stderr
    assert f"for shortcode {TILL_NUMBER}" in first.stdout
    assert "one-time" in first.stdout and "500.003.1001" in first.stdout
    answer = json.loads(first.last_line)
    assert answer["status"] == "registered"
    assert answer["confirmation_url"].startswith(relay_server.base_url + "/api/v1/callbacks/c2b/")

    again = await run_cli("c2b", "register", "--json", env=env)
    assert again.code == EXIT_ALREADY_REGISTERED
    assert "already registered (500.003.1001)" in again.stderr
    assert "delete the URLs in the Daraja portal" in again.stderr
    assert json.loads(again.last_line)["status"] == "already_registered"


async def test_pull_finds_a_lost_confirmation_and_the_owner_releases_a_wrong_claim(
    clean_env: dict[str, str], rig: Rig, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    env = env_for(clean_env, rig)
    assert (await run_cli("c2b", "register", env=env)).code == EXIT_OK
    lost = (await customer_pays(rig.simulator, TILL_NUMBER, 350, phone=CONFIRMATION_LOST))["TransID"]

    pulled = await run_cli("c2b", "pull", "--register", "--nominated-number", "0722000000", "--json", env=env)
    assert pulled.code == EXIT_OK, pulled.stderr
    assert json.loads(pulled.last_line) == {
        "status": "pulled",
        "shortcode": TILL_NUMBER,
        "seen": 1,
        "new": 1,
    }
    claimed = await run_cli("c2b", "claim", lost, "--sale", "SWRONG", env=env)
    assert claimed.code == EXIT_OK, claimed.stderr

    pin_env = {**env, "MPESA_TILL_NEW_PIN": PIN}
    assert (await run_cli("set-pin", env=pin_env)).code == EXIT_OK
    released = await run_cli("c2b", "release", lost, "--json", env={**env, "MPESA_TILL_PIN": PIN})
    assert released.code == EXIT_OK, released.stderr
    assert json.loads(released.last_line) == {"status": "released", "trans_id": lost, "sale_id": "SWRONG"}
    assert "is free again; sale SWRONG here is no longer paid by it." in released.stdout


def test_the_c2b_help_lists_the_exit_codes() -> None:
    import contextlib
    import io

    from pos_app.cli import build_parser

    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        build_parser().parse_args(["c2b", "register", "--help"])
    assert "500.003.1001" in text.getvalue() and "already_registered" in text.getvalue()
