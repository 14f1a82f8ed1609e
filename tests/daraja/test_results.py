import pytest

from daraja_core.results import (
    QUERY_PENDING_CODES,
    NextStep,
    Outcome,
    ResultInfo,
    classify,
    known_codes,
)

# Every code in docs/daraja.md §4a with the outcome a cashier must see.
EXPECTED = {
    "0": Outcome.PAID,
    "1": Outcome.INSUFFICIENT_FUNDS,
    "2": Outcome.LIMIT,
    "3": Outcome.LIMIT,
    "4": Outcome.LIMIT,
    "8": Outcome.LIMIT,
    "17": Outcome.LIMIT,
    "26": Outcome.REJECTED,
    "1001": Outcome.REJECTED,
    "1019": Outcome.EXPIRED,
    "1025": Outcome.REJECTED,
    "1031": Outcome.CANCELLED,
    "1032": Outcome.CANCELLED,
    "1036": Outcome.UNREACHABLE,
    "1037": Outcome.UNREACHABLE,
    "2001": Outcome.WRONG_PIN,
    "2028": Outcome.REJECTED,
    "8006": Outcome.REJECTED,
    "9999": Outcome.REJECTED,
    "SFC_IC0003": Outcome.REJECTED,
    "E3008": Outcome.REJECTED,
}


@pytest.mark.parametrize(("code", "outcome"), EXPECTED.items())
def test_every_reference_code_maps_to_its_outcome_with_both_languages(code: str, outcome: Outcome) -> None:
    info = classify(code)
    assert info.code == code
    assert info.outcome is outcome
    assert info.message_en.strip() and info.message_sw.strip()
    assert info.message_en != info.message_sw


def test_catalogue_covers_exactly_the_reference_codes_plus_query_pending() -> None:
    assert known_codes() == set(EXPECTED) | QUERY_PENDING_CODES


def test_only_code_zero_is_paid() -> None:
    paid = [code for code in known_codes() if classify(code).outcome is Outcome.PAID]
    assert paid == ["0"]
    assert classify("0").paid and classify("0").next_step is NextStep.NONE


def test_cancel_message_is_plain_english_and_swahili() -> None:
    info = classify(1032)
    assert info == ResultInfo(
        "1032",
        Outcome.CANCELLED,
        "The customer cancelled the prompt.",
        "Mteja ameghairi ombi.",
        NextStep.RETRY,
    )


@pytest.mark.parametrize("code", [0, "0", " 0 ", "0\n"])
def test_numeric_and_string_codes_with_whitespace_are_the_same_code(code: str | int) -> None:
    assert classify(code).outcome is Outcome.PAID
    assert classify(code).code == "0"


@pytest.mark.parametrize("code", ["12345", "", "00", "1032.0", "SFC_IC9999", "paid", "-1"])
def test_unknown_codes_are_unknown_and_tell_the_cashier_to_check_the_sms(code: str) -> None:
    info = classify(code)
    assert info.outcome is Outcome.UNKNOWN
    assert info.next_step is NextStep.CHECK_SMS
    assert "check the customer's SMS before charging again" in info.message_en
    assert "SMS" in info.message_sw


def test_query_pending_code_is_never_a_failure_nor_paid() -> None:
    assert "4999" in QUERY_PENDING_CODES
    info = classify("4999")
    assert info.outcome is Outcome.UNKNOWN
    assert not info.paid


def test_rule_limited_asks_to_check_sms_because_the_same_charge_may_have_gone_through() -> None:
    assert classify(17).next_step is NextStep.CHECK_SMS


def test_till_misconfiguration_codes_send_the_cashier_to_cash_not_to_retry() -> None:
    for code in ("SFC_IC0003", "2028"):
        info = classify(code)
        assert info.next_step is NextStep.TAKE_CASH
        assert "Settings" in info.message_en


def test_a_bool_is_refused_as_a_result_code() -> None:
    with pytest.raises(TypeError):
        classify(True)


def test_result_info_is_immutable() -> None:
    info = classify("1")
    with pytest.raises(AttributeError):
        info.outcome = Outcome.PAID  # type: ignore[misc]
