import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from daraja_core.callback import CallbackParseError, StkCallback, parse_stk_callback
from daraja_core.results import Outcome, classify

from .payloads import FIXTURES, fixture_bytes, fixture_text


def test_seed_curl_payload_parses_every_field_by_name() -> None:
    cb = parse_stk_callback(fixture_bytes("callback_seed_curl.json"))
    assert cb == StkCallback(
        merchant_request_id="29115-34620561-1",
        checkout_request_id="ws_CO_191220191020363925",
        result_code="0",
        result_desc="The service request is processed successfully.",
        amount=Decimal("1.00"),
        receipt="NLJ7RT61SV",
        transaction_date=datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC),
        phone="254708374149",
        balance=None,
    )
    assert cb.amount_kes == 1
    assert cb.succeeded


def test_2019_success_with_decimal_amount_and_balance_without_value() -> None:
    cb = parse_stk_callback(fixture_text("callback_success_2019.json"))
    assert cb.amount == Decimal("1.00")
    assert cb.amount_kes == 1
    assert cb.balance is None
    assert cb.receipt == "LGR7OWQX0R"
    assert cb.phone == "254721566839"
    assert cb.transaction_date == datetime(2017, 7, 27, 12, 48, 0, tzinfo=UTC)


def test_2021_success_with_integer_amount_and_no_balance() -> None:
    cb = parse_stk_callback(fixture_text("callback_success_2021.json"))
    assert cb.amount == Decimal(1)
    assert cb.amount_kes == 1
    assert cb.balance is None
    assert cb.receipt == "PFL3RSZLWK"


def test_balance_with_a_value_is_parsed_as_decimal() -> None:
    cb = parse_stk_callback(fixture_text("callback_success_balance_with_value.json"))
    assert cb.balance == Decimal("32009.9")
    assert cb.amount_kes == 10500


def test_items_are_read_by_name_not_position() -> None:
    cb = parse_stk_callback(fixture_text("callback_success_items_reordered.json"))
    assert cb.amount_kes == 250
    assert cb.receipt == "PFL3RSZLWX"
    assert cb.phone == "254110156957"
    assert cb.transaction_date == datetime(2021, 6, 21, 10, 15, 30, tzinfo=UTC)


def test_a_fractional_amount_is_kept_but_has_no_whole_shilling_value() -> None:
    cb = parse_stk_callback(fixture_text("callback_success_fractional_amount.json"))
    assert cb.amount == Decimal("10.50")
    assert cb.amount_kes is None


def test_a_decoded_dict_with_float_amount_parses_like_the_raw_body() -> None:
    raw = fixture_text("callback_seed_curl.json")
    assert parse_stk_callback(json.loads(raw)) == parse_stk_callback(raw)


FAILURE_FILES = sorted(p.name for p in FIXTURES.glob("callback_failed_*.json"))


@pytest.mark.parametrize("name", FAILURE_FILES)
def test_every_failure_callback_parses_without_metadata_and_is_never_paid(name: str) -> None:
    cb = parse_stk_callback(fixture_bytes(name))
    assert not cb.succeeded
    assert (cb.amount, cb.receipt, cb.phone, cb.transaction_date, cb.amount_kes) == (None,) * 5
    assert classify(cb.result_code).outcome not in (Outcome.PAID, Outcome.UNKNOWN)


def test_failure_fixtures_cover_every_reference_failure_code() -> None:
    codes = {parse_stk_callback(fixture_bytes(n)).result_code for n in FAILURE_FILES}
    assert codes == {
        "1", "2", "3", "4", "8", "17", "26", "1001", "1019", "1025", "1031", "1032",
        "1036", "1037", "2001", "2028", "8006", "9999", "SFC_IC0003",
    }  # fmt: skip


def test_string_result_code_is_kept_as_sent() -> None:
    cb = parse_stk_callback(fixture_text("callback_failed_SFC_IC0003.json"))
    assert cb.result_code == "SFC_IC0003"
    assert cb.result_desc == "The operator does not exist."


def test_prefixed_description_maps_on_the_code() -> None:
    cb = parse_stk_callback(fixture_text("callback_failed_1032_prefixed_2019.json"))
    assert classify(cb.result_code).outcome is Outcome.CANCELLED


def _callback(**stk: object) -> dict[str, object]:
    base: dict[str, object] = {
        "MerchantRequestID": "m-1",
        "CheckoutRequestID": "ws_CO_1",
        "ResultCode": 0,
        "ResultDesc": "ok",
    }
    base.update(stk)
    return {"Body": {"stkCallback": base}}


def _items(*items: dict[str, object]) -> dict[str, object]:
    return {"Item": list(items)}


def test_string_phone_and_amount_from_hand_made_payloads_are_accepted() -> None:
    cb = parse_stk_callback(
        _callback(
            CallbackMetadata=_items(
                {"Name": "Amount", "Value": "20"},
                {"Name": "PhoneNumber", "Value": "254708374149"},
                {"Name": "TransactionDate", "Value": "20261121120000"},
            )
        )
    )
    assert cb.amount_kes == 20
    assert cb.phone == "254708374149"
    assert cb.transaction_date == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_a_masked_phone_is_dropped_rather_than_failing_a_paid_callback() -> None:
    cb = parse_stk_callback(
        _callback(CallbackMetadata=_items({"Name": "PhoneNumber", "Value": "2547 ***** 149"}))
    )
    assert cb.phone is None


def test_unknown_metadata_items_are_ignored() -> None:
    cb = parse_stk_callback(
        _callback(CallbackMetadata=_items({"Name": "Amount", "Value": 5}, {"Name": "NewThing", "Value": 1}))
    )
    assert cb.amount_kes == 5


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "UTF-8"),
        ("[1, 2]", "not a JSON object"),
        ("{}", "'Body'"),
        ({"Body": []}, "'Body'"),
        ({"Body": {}}, "stkCallback"),
        ({"Body": {"stkCallback": "x"}}, "stkCallback"),
        (fixture_text("callback_invalid_no_checkout_request_id.json"), "CheckoutRequestID"),
        (fixture_text("callback_invalid_no_stkcallback.json"), "stkCallback"),
        (_callback(CheckoutRequestID="  "), "CheckoutRequestID"),
        (_callback(CheckoutRequestID=12), "CheckoutRequestID"),
        (_callback(ResultCode=None), "ResultCode"),
        (_callback(ResultCode=True), "ResultCode"),
        (_callback(ResultCode=[0]), "ResultCode"),
        (_callback(ResultCode=""), "ResultCode"),
        (_callback(MerchantRequestID=5), "MerchantRequestID"),
        (_callback(ResultDesc=5), "ResultDesc"),
        (_callback(CallbackMetadata=[]), "CallbackMetadata"),
        (_callback(CallbackMetadata={"Item": {}}), "Item"),
        (_callback(CallbackMetadata=_items({"Value": 1})), "Name"),
        (_callback(CallbackMetadata=_items({"Name": "Amount", "Value": "ten"})), "Amount"),
        (_callback(CallbackMetadata=_items({"Name": "Amount", "Value": [1]})), "Amount"),
        (_callback(CallbackMetadata=_items({"Name": "TransactionDate", "Value": 2019})), "TransactionDate"),
        (_callback(CallbackMetadata=_items({"Name": "TransactionDate", "Value": 1.5})), "TransactionDate"),
        (
            _callback(CallbackMetadata=_items({"Name": "MpesaReceiptNumber", "Value": 7})),
            "MpesaReceiptNumber",
        ),
        (_callback(CallbackMetadata=_items({"Name": "PhoneNumber", "Value": [1]})), "PhoneNumber"),
    ],
)
def test_garbage_raises_callback_parse_error_naming_the_problem(body: object, words: str) -> None:
    with pytest.raises(CallbackParseError, match=words):
        parse_stk_callback(body)  # type: ignore[arg-type]


def test_callback_parse_error_is_a_value_error() -> None:
    assert issubclass(CallbackParseError, ValueError)


def test_numeric_result_code_from_a_decoded_float_is_normalised() -> None:
    assert parse_stk_callback(_callback(ResultCode=1032.0)).result_code == "1032"


@pytest.mark.parametrize(
    "body",
    [
        # Read last-wins, this paid; other parsers read first-wins (1032, cancelled).
        '{"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1", '
        '"ResultCode": 1032, "ResultDesc": "x", "ResultCode": 0}}}',
        '{"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1", '
        '"CheckoutRequestID": "ws_CO_2", "ResultCode": 0, "ResultDesc": "x"}}}',
        '{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}, "Body": {}}',
        '{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, "CallbackMetadata": '
        '{"Item": [{"Name": "Amount", "Value": 1, "Value": 1000}]}}}}',
    ],
)
def test_a_repeated_key_anywhere_makes_the_callback_ambiguous(body: str) -> None:
    with pytest.raises(CallbackParseError, match=r"repeats the key .*ambiguous"):
        parse_stk_callback(body)


def test_two_metadata_items_with_one_name_make_the_callback_ambiguous() -> None:
    items = _items({"Name": "Amount", "Value": 10}, {"Name": "Amount", "Value": 1})
    with pytest.raises(CallbackParseError, match="two items named 'Amount'"):
        parse_stk_callback(_callback(CallbackMetadata=items))


@pytest.mark.parametrize("amount", ["1e1", "１０", "٣", "10 000", "-10", "0x10", "1_0"])
def test_an_amount_written_as_text_takes_ascii_digits_only(amount: str) -> None:
    items = _items({"Name": "Amount", "Value": amount})
    with pytest.raises(CallbackParseError, match="Amount is not a number"):
        parse_stk_callback(_callback(CallbackMetadata=items))


@pytest.mark.parametrize("phone", ["07²³¹²³¹²³", "2547０８３７４１４９", "-254708374149", -254708374149])
def test_a_phone_number_not_in_ascii_digits_is_no_phone_number(phone: object) -> None:
    cb = parse_stk_callback(_callback(CallbackMetadata=_items({"Name": "PhoneNumber", "Value": phone})))
    assert cb.phone is None


def test_a_transaction_date_not_in_ascii_digits_is_refused() -> None:
    items = _items({"Name": "TransactionDate", "Value": "２０１９１２１９１０２１１５"})
    with pytest.raises(CallbackParseError, match="TransactionDate"):
        parse_stk_callback(_callback(CallbackMetadata=items))


@pytest.mark.parametrize("code", ["00", "-1", "0.0", "+0", "０", "4999", "12345"])
def test_an_unknown_code_is_not_a_final_result(code: str) -> None:
    info = classify(code)
    assert (info.outcome, info.final, info.paid) == (Outcome.UNKNOWN, False, False)


def test_every_catalogue_code_but_still_processing_is_final() -> None:
    from daraja_core.results import known_codes

    assert {code for code in known_codes() if not classify(code).final} == {"4999"}
