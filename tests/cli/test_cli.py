"""`mpesa-till` on the command line: the same engine and store as the window."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from tests.cli.conftest import CliResult, run_cli
from tests.engine.conftest import Rig, RigFactory


def remote_env(clean_env: dict[str, str], rig: Rig) -> dict[str, str]:
    return {
        **clean_env,
        "MPESA_CONSUMER_KEY": SIM_CONSUMER_KEY,
        "MPESA_CONSUMER_SECRET": SIM_CONSUMER_SECRET,
        "MPESA_SHORTCODE": SANDBOX_SHORTCODE,
        "MPESA_PASSKEY": SANDBOX_PASSKEY,
        "MPESA_RELAY_URL": rig.relay.base_url,
        "MPESA_RELAY_KEY": rig.relay_key,
        "MPESA_API_BASE_URL": rig.simulator.base_url,
        "MPESA_TILL_RELAY_SILENCE_S": "1",
        "MPESA_TILL_WAIT_DEADLINE_S": "5",
        "MPESA_TILL_LONG_POLL_S": "1",
    }


async def test_pay_in_demo_mode_prints_paid_with_a_receipt_as_the_last_json_line(
    clean_env: dict[str, str],
) -> None:
    result = await run_cli(
        "pay", "--demo", "--amount", "10", "--phone", "0708374149", "--json", env=clean_env
    )
    assert result.code == 0, result.stderr
    answer = json.loads(result.last_line)
    assert answer["status"] == "paid"
    assert answer["receipt"] and len(answer["receipt"]) == 10
    assert answer["amount_kes"] == 10 and answer["checkout_request_id"].startswith("ws_CO_")
    assert answer["reason"] == "" and answer["demo"] is True
    assert "DEMO" in result.stdout and "Waiting for the customer's PIN" in result.stdout
    # Phones are masked. Daraja's CheckoutRequestID itself ends with 9 digits of the number
    # (docs/daraja.md §7).
    shown = (result.stdout + result.stderr).replace(answer["checkout_request_id"], "")
    assert "708374149" not in shown
    assert "Traceback" not in result.stderr  # the embedded relay and the simulator stop cleanly


EXIT_FAILED, EXIT_USAGE, EXIT_UNKNOWN, EXIT_REFUSED = 1, 2, 3, 4


def lines_before_json(result: CliResult, word: str) -> list[str]:
    return [line for line in result.stdout.strip().splitlines()[:-1] if word.lower() in line.lower()]


async def test_a_failed_payment_exits_1_with_the_reason_printed_once(
    clean_env: dict[str, str], rig: Rig
) -> None:
    result = await run_cli(
        "pay", "--amount", "15", "--phone", "0711000002", "--json", env=remote_env(clean_env, rig)
    )
    assert result.code == EXIT_FAILED
    answer = json.loads(result.last_line)
    assert answer["status"] == "failed" and answer["receipt"] is None
    assert "enough money" in answer["reason"] and answer["outcome"] == "insufficient_funds"
    assert lines_before_json(result, "enough money") == [
        "FAILED: The customer does not have enough money on M-Pesa."
    ]


async def test_an_unknown_payment_exits_3_not_1_and_says_so_once(clean_env: dict[str, str], rig: Rig) -> None:
    result = await run_cli(
        "pay", "--amount", "15", "--phone", "0711000009", "--json", env=remote_env(clean_env, rig)
    )
    assert result.code == EXIT_UNKNOWN
    assert json.loads(result.last_line)["status"] == "unknown"
    assert len(lines_before_json(result, "SMS")) == 1, result.stdout


async def test_a_sale_with_a_payment_still_waiting_is_refused_with_its_own_status_and_exit_code(
    clean_env: dict[str, str], rig_factory: RigFactory
) -> None:
    rig = await rig_factory(callback_delay_s=120)  # the customer has not answered yet
    env = {**remote_env(clean_env, rig), "MPESA_TILL_WAIT_DEADLINE_S": "120"}
    first = await run_cli(
        "pay", "--amount", "40", "--phone", "0708374149", "--json", "--timeout", "1", env=env
    )
    waiting = json.loads(first.last_line)
    assert first.code == EXIT_UNKNOWN and waiting["status"] == "pending", first.stdout

    again = await run_cli(
        "pay", "--amount", "40", "--phone", "0708374149", "--sale", waiting["sale_id"], "--json", env=env
    )
    assert again.code == EXIT_REFUSED, again.stderr
    answer = json.loads(again.last_line)
    assert answer["status"] == "refused" and answer["sale_id"] == waiting["sale_id"]
    assert "waiting" in answer["reason"]
    assert (await rig.daraja_calls())["pushes"] == 1


async def test_pay_help_lists_the_exit_codes(clean_env: dict[str, str]) -> None:
    result = await run_cli("pay", "--help", env=clean_env)
    assert result.code == 0
    for line in ("0  paid", "1  failed", "2  invalid", "3  unknown", "4  refused"):
        assert f"  {line}" in result.stdout, line


async def test_an_invalid_phone_is_refused_before_anything_is_sent(
    clean_env: dict[str, str], rig: Rig
) -> None:
    result = await run_cli(
        "pay", "--amount", "15", "--phone", "0808", "--json", env=remote_env(clean_env, rig)
    )
    assert result.code == EXIT_USAGE and "Not charged" in result.stderr
    assert json.loads(result.last_line)["status"] == "invalid"
    assert (await rig.daraja_calls())["pushes"] == 0


async def test_history_report_and_manual_receipt_share_the_tills_store(
    clean_env: dict[str, str], rig: Rig, tmp_path: Path
) -> None:
    env = remote_env(clean_env, rig)
    paid = await run_cli("pay", "--amount", "20", "--phone", "0708374149", "--json", env=env)
    assert json.loads(paid.last_line)["status"] == "paid"
    unknown = await run_cli("pay", "--amount", "30", "--phone", "0711000009", "--json", env=env)
    assert unknown.code == EXIT_UNKNOWN
    unknown_answer = json.loads(unknown.last_line)
    assert unknown_answer["status"] == "unknown"

    history = await run_cli("history", "--json", env=env)
    rows = json.loads(history.last_line)
    assert [row["status"] for row in rows] == ["unknown", "paid"]  # newest first
    assert rows[1]["phone"] == "0708 *** 149"

    set_pin = await run_cli("set-pin", env={**env, "MPESA_TILL_NEW_PIN": "2468"})
    assert set_pin.code == 0, set_pin.stderr
    entered = await run_cli(
        "receipt", unknown_answer["sale_id"], "tk3ab12cde", "--json", env={**env, "MPESA_TILL_PIN": "2468"}
    )
    assert entered.code == 0, entered.stderr
    answer = json.loads(entered.last_line)
    assert answer["status"] == "paid" and answer["verified"] is False and answer["receipt"] == "TK3AB12CDE"

    csv_file = tmp_path / "day.csv"
    report = await run_cli("report", "--csv", str(csv_file), env=env)
    # The receipt typed and not verified is held apart ("To check"): not in the paid total.
    assert report.code == 0 and "Paid total: KES 20" in report.stdout and "NOT verified" in report.stdout
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    manual = next(row for row in rows if row["Payment"] == unknown_answer["attempt_id"])
    assert (manual["Result"], manual["Method"], manual["Receipt"]) == (
        "To check",
        "Manual receipt",
        "TK3AB12CDE",
    )
    assert manual["Receipt verified"] == "No" and manual["Amount (KES)"] == "30"


async def test_doctor_prints_one_line_per_finding(clean_env: dict[str, str], rig: Rig) -> None:
    result = await run_cli("doctor", env=remote_env(clean_env, rig))
    assert "Mode: remote" in result.stdout
    assert "OK       Daraja accepted the credentials." in result.stdout
    assert "ERROR    The callback URL is not HTTPS" in result.stdout  # loopback http in the test
    assert result.code == 1
    assert SIM_CONSUMER_SECRET not in result.stdout + result.stderr and rig.relay_key not in result.stdout
