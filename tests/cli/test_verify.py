"""`mpesa-till verify CODE` as a real process against the real relay and simulator: one sentence, and an
exit code per answer (0 genuine and free, 5 used, 6 not received, 2 not a code, 7 cannot check)."""

from __future__ import annotations

import json

from tests.cli.conftest import run_cli
from tests.cli.test_cli import remote_env
from tests.engine.conftest import Rig
from tests.engine.test_message_check import TILL_NUMBER, shop_of
from tests.relay.c2b_support import customer_pays


async def test_a_paid_sale_s_receipt_is_genuine_and_used_by_that_sale(
    clean_env: dict[str, str], rig: Rig
) -> None:
    env = remote_env(clean_env, rig)
    paid = await run_cli("pay", "--amount", "30", "--phone", "0708374149", "--json", env=env)
    assert paid.code == 0, paid.stderr
    sale = json.loads(paid.last_line)
    result = await run_cli("verify", sale["receipt"].lower(), "--json", env=env)
    assert result.code == 5, result.stderr
    answer = json.loads(result.last_line)
    assert (answer["status"], answer["receipt"], answer["amount_kes"], answer["sale_id"]) == (
        "genuine_used",
        sale["receipt"],
        30,
        sale["sale_id"],
    )
    assert result.stdout.startswith(
        f"ALREADY USED: this payment of KES 30 was taken by sale {sale['sale_id']}"
    )


async def test_a_c2b_payment_to_the_shop_is_genuine_and_free_with_the_payer_s_name(
    clean_env: dict[str, str], rig: Rig
) -> None:
    await shop_of(rig)
    payment = await customer_pays(rig.simulator, TILL_NUMBER, 1200)
    result = await run_cli("verify", payment["TransID"], "--json", env=remote_env(clean_env, rig))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("GENUINE: KES 1,200 from DEMO at ")
    answer = json.loads(result.last_line)
    assert (answer["status"], answer["name"], answer["sale_id"]) == ("genuine_free", "DEMO", None)


async def test_a_made_up_code_is_not_received_and_with_the_relay_stopped_cannot_be_checked(
    clean_env: dict[str, str], rig: Rig
) -> None:
    env = remote_env(clean_env, rig)
    made_up = await run_cli("verify", "TK3MX6CLYC", env=env)
    assert made_up.code == 6, made_up.stderr
    assert made_up.stdout.strip() == (
        "NOT RECEIVED: this shop has no M-Pesa payment TK3MX6CLYC. Do not hand over the goods."
    )
    await rig.relay.stop()
    down = await run_cli("verify", "TK3MX6CLYC", "--json", env=env)
    assert down.code == 7, down.stderr
    answer = json.loads(down.last_line)
    assert answer["status"] == "cannot_check" and answer["reason"]
    assert "NOT RECEIVED" not in down.stdout


async def test_a_code_that_cannot_be_a_receipt_exits_2_in_the_till_s_language(
    clean_env: dict[str, str], rig: Rig
) -> None:
    env = {**remote_env(clean_env, rig), "MPESA_TILL_LANGUAGE": "sw"}
    result = await run_cli("verify", "TK3-MX6", "--json", env=env)
    assert result.code == 2
    assert json.loads(result.last_line)["status"] == "invalid"
    assert "10 letters" not in result.stderr and result.stderr.strip()


async def test_verify_help_lists_its_exit_codes(clean_env: dict[str, str]) -> None:
    result = await run_cli("verify", "--help", env=clean_env)
    assert result.code == 0
    for line in ("0  genuine_free", "5  genuine_used", "6  not_received", "2  invalid", "7  cannot_check"):
        assert line in result.stdout
