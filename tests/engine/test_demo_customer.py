"""Demo mode: a customer paying the demo paybill from their phone reaches this till as a C2B payment
(Paid to till, the message check), through the simulator and the embedded relay, as in a real shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_app.config import load_config
from pos_app.engine.message_check import Verdict
from pos_app.engine.service import TillService
from tests.engine.conftest import eventually


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


async def test_a_demo_customer_paying_the_paybill_is_offered_and_checks_as_genuine(
    tmp_path: Path, no_keyring: None
) -> None:
    config = load_config(
        env={"MPESA_TILL_HOME": str(tmp_path)}, dotenv_path=tmp_path / "x.env", force_demo=True
    )
    service = await TillService.open(config)
    try:
        receipt = await service.demo_customer_pays(350)
        offers = await service.c2b_offers(350, catch_up=True)
        check = await service.check_message(receipt)
    finally:
        await service.close()
    assert [(o.trans_id, o.amount_kes) for o in offers] == [(receipt, 350)]
    assert (check.verdict, check.amount_kes) == (Verdict.GENUINE_FREE, 350)


async def test_the_demo_customer_needs_an_amount_and_a_demo_till(tmp_path: Path, no_keyring: None) -> None:
    config = load_config(
        env={"MPESA_TILL_HOME": str(tmp_path)}, dotenv_path=tmp_path / "x.env", force_demo=True
    )
    service = await TillService.open(config)
    try:
        with pytest.raises(ValueError, match="Type the amount"):
            await service.demo_customer_pays(0)
        assert await service.c2b_offers(catch_up=True) == []
    finally:
        await service.close()


async def test_the_demo_customer_scans_the_sales_qr_and_the_sale_is_paid_by_itself(
    tmp_path: Path, no_keyring: None
) -> None:
    config = load_config(
        env={"MPESA_TILL_HOME": str(tmp_path)}, dotenv_path=tmp_path / "x.env", force_demo=True
    )
    service = await TillService.open(config)
    try:
        qr = await service.qr.show("SDEMOQR01", 275)
        assert (qr.trx_code, qr.reference) == ("PB", "SDEMOQR01")
        receipt = await service.demo_customer_pays(0, qr_request_id=qr.request_id)

        async def paid() -> bool:
            return [a.receipt for a in await service.store.attempts_for_sale("SDEMOQR01")] == [receipt]

        await eventually(paid)
        [attempt] = await service.store.attempts_for_sale("SDEMOQR01")
        assert (attempt.method, attempt.amount_kes, attempt.demo) == ("qr", 275, True)
    finally:
        await service.close()
