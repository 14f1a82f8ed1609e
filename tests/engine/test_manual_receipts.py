"""Manual receipt entry by the owner: PIN (scrypt-hashed), format, one receipt per sale, verified against
the REAL relay's receipt look-up (amount must match) or recorded as unverified, all in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pos_app.engine.errors import ReceiptRefused, WrongPin
from pos_app.engine.pin import hash_pin, verify_pin
from tests.engine.conftest import Rig, settle


async def paid_receipt(rig: Rig, till, amount_kes: int = 10) -> str:  # type: ignore[no-untyped-def]
    view = await till.charge(amount_kes, "0708374149")
    final = await settle(till, view.attempt_id)
    assert final.receipt
    return str(final.receipt)


async def unknown_attempt(till) -> str:  # type: ignore[no-untyped-def]
    view = await till.charge(250, "0711000009")  # push answered HTTP 500: unknown, nothing rang
    assert view.state == "unknown"
    return str(view.attempt_id)


def test_the_pin_is_stored_as_a_salted_slow_hash() -> None:
    stored = hash_pin("2468")
    assert stored.startswith("scrypt$") and "2468" not in stored
    assert stored != hash_pin("2468")  # salted
    assert verify_pin("2468", stored) and not verify_pin("1357", stored)


async def test_a_receipt_the_relay_knows_with_the_same_amount_is_verified_and_audited(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    other_till = await rig.open(home=rig.home.parent / "other")  # a second till sharing the relay key
    receipt = await paid_receipt(rig, other_till, 250)
    attempt_id = await unknown_attempt(till)
    result = await till.enter_manual_receipt(attempt_id, receipt.lower(), "2468")
    assert result.verified, result.reason
    assert result.attempt.state == "paid" and result.attempt.method == "manual"
    assert result.attempt.receipt == receipt and result.attempt.manual_verified is True
    entry = (await till.audit_trail(attempt_id))[-1]
    assert entry["actor"] == "owner" and entry["action"] == "manual_receipt"
    assert entry["detail"]["verified"] is True and entry["from_state"] == "unknown"
    report = await till.day_report()
    assert [v.attempt_id for v in report.manual_entries] == [attempt_id]
    assert report.by_method["manual"] == (1, 250)


async def test_a_receipt_with_another_amount_is_recorded_unverified_with_the_reason(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    other_till = await rig.open(home=rig.home.parent / "other")
    receipt = await paid_receipt(rig, other_till, 99)
    attempt_id = await unknown_attempt(till)
    result = await till.enter_manual_receipt(attempt_id, receipt, "2468")
    assert not result.verified
    assert "KES 99" in result.reason
    assert result.attempt.state == "paid" and result.attempt.manual_verified is False
    assert "NOT verified" in result.attempt.message_en


async def test_a_receipt_the_relay_never_saw_is_recorded_unverified(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    attempt_id = await unknown_attempt(till)
    result = await till.enter_manual_receipt(attempt_id, "TK3AB12CDE", "2468")
    assert not result.verified and "no M-Pesa payment" in result.reason
    assert (await till.attempt(attempt_id)).receipt == "TK3AB12CDE"


async def test_a_receipt_already_used_on_any_sale_is_refused(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    receipt = await paid_receipt(rig, till)
    attempt_id = await unknown_attempt(till)
    with pytest.raises(ReceiptRefused, match="already used"):
        await till.enter_manual_receipt(attempt_id, receipt, "2468")
    assert (await till.attempt(attempt_id)).state == "unknown"


async def test_a_receipt_that_is_not_ten_letters_and_digits_is_refused(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    attempt_id = await unknown_attempt(till)
    for code in ("NLJ7RT61S", "NLJ7RT61SV1", "NLJ7-T61SV", "NLJ7RT61S!"):
        with pytest.raises(ReceiptRefused, match="10 letters"):
            await till.enter_manual_receipt(attempt_id, code, "2468")
    assert (await till.attempt(attempt_id)).state == "unknown"


async def test_a_wrong_pin_is_refused_and_the_attempt_is_audited(rig: Rig) -> None:
    till = await rig.open()
    attempt_id = await unknown_attempt(till)
    with pytest.raises(WrongPin, match="No owner PIN"):
        await till.enter_manual_receipt(attempt_id, "TK3AB12CDE", "2468")
    await till.set_owner_pin(None, "2468")
    with pytest.raises(WrongPin):
        await till.enter_manual_receipt(attempt_id, "TK3AB12CDE", "1111")
    with pytest.raises(WrongPin):
        await till.set_owner_pin("1111", "9999")
    await till.set_owner_pin("2468", "9999")
    result = await till.enter_manual_receipt(attempt_id, "TK3AB12CDE", "9999")
    assert result.attempt.state == "paid"


async def test_a_paid_attempt_takes_no_manual_receipt(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    view = await till.charge(10, "0708374149")
    await settle(till, view.attempt_id)
    with pytest.raises(ReceiptRefused, match="already paid"):
        await till.enter_manual_receipt(view.sale_id, "TK3AB12CDE", "2468")


async def test_an_unverified_receipt_is_to_check_and_not_counted_as_paid(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    attempt_id = await unknown_attempt(till)
    result = await till.enter_manual_receipt(attempt_id, "TK3AB12CDE", "2468")
    assert not result.verified and result.attempt.to_check
    report = await till.day_report()
    assert report.paid_total_kes == 0 and "manual" not in report.by_method
    assert report.by_outcome.get("to_check") == (1, 250) and "paid" not in report.by_outcome
    assert [v.attempt_id for v in report.to_check] == [attempt_id]
    assert "Paid total,,0,0" in report.summary_csv()


async def test_a_receipt_on_a_sale_already_paid_by_another_attempt_is_refused(rig: Rig) -> None:
    till = await rig.open()
    await till.set_owner_pin(None, "2468")
    first = await till.charge(250, "0711000009", sale_id="SALE9")  # unknown
    assert first.state == "unknown"
    again = await till.charge(250, "0708374149", sale_id="SALE9", customer_confirms_no_sms=True)
    receipt = (await settle(till, again.attempt_id)).receipt
    with pytest.raises(ReceiptRefused, match=f"sale is already paid \\(receipt {receipt}\\)"):
        await till.enter_manual_receipt(first.attempt_id, "TK3AB12CDE", "2468")
    report = await till.day_report()
    assert report.paid_total_kes == 250
    # The unknown attempt is resolved by the paid one: neither listed as unknown nor alerted on.
    assert report.unknowns == []
    stuck, _anomalies = await till.store.alert_counts(
        since=first.created_at - timedelta(days=1), pending_before=first.created_at + timedelta(days=1)
    )
    assert stuck == 0
