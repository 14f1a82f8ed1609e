"""Properties of the STK callback parser (daraja_core/callback.py) over generated bodies: whatever reaches
a callback URL either parses or raises CallbackParseError (so the relay keeps the raw body and records
why), and every callback in Daraja's shape (docs/daraja.md §4) comes back field for field."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from daraja_core.callback import CallbackParseError, parse_stk_callback
from daraja_core.results import known_codes
from daraja_core.simulator.callbacks import stk_callback_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
item_names = st.sampled_from(
    ["Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber", "X"]
)
# Daraja's outline with anything in its places: reaches the field checks, not only the outer ones.
callback_shaped = st.fixed_dictionaries(
    {
        "Body": st.fixed_dictionaries(
            {
                "stkCallback": st.fixed_dictionaries(
                    {},
                    optional={
                        "MerchantRequestID": json_values,
                        "CheckoutRequestID": st.text(max_size=20) | json_values,
                        "ResultCode": st.sampled_from([0, "0", 1032, "SFC_IC0003"]) | json_values,
                        "ResultDesc": json_values,
                        "CallbackMetadata": st.fixed_dictionaries(
                            {},
                            optional={
                                "Item": st.lists(
                                    st.fixed_dictionaries(
                                        {"Name": item_names}, optional={"Value": json_values}
                                    ),
                                    max_size=6,
                                )
                                | json_values
                            },
                        )
                        | json_values,
                    },
                )
            }
        )
    }
)


def parses_or_refuses(body: bytes | str | dict[str, Any]) -> None:
    with contextlib.suppress(CallbackParseError):
        parse_stk_callback(body)


@given(json_values | callback_shaped)
def test_any_json_parses_or_raises_callback_parse_error_and_nothing_else(payload: Any) -> None:
    text = json.dumps(payload)
    parses_or_refuses(text)
    parses_or_refuses(text.encode())
    if isinstance(payload, dict):
        parses_or_refuses(payload)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_callback_parse_error(body: bytes) -> None:
    parses_or_refuses(body)


ids = st.from_regex(r"[A-Za-z0-9_\-]{1,40}", fullmatch=True)
receipts = st.from_regex(r"[A-Z0-9]{10}", fullmatch=True)
phones = st.from_regex(r"254[71][0-9]{8}", fullmatch=True)
# Second resolution, as on the wire (YYYYMMDDHHmmss, EAT).
moments = st.integers(
    int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2099, 12, 31, tzinfo=UTC).timestamp())
).map(lambda seconds: datetime.fromtimestamp(seconds, UTC))
failure_codes = st.sampled_from(sorted(known_codes() - {"0"})) | st.from_regex(
    r"[0-9A-Z_]{1,10}", fullmatch=True
)


@st.composite
def callbacks(draw: st.DrawFn) -> dict[str, Any]:
    paid = draw(st.booleans())
    # "00" goes on the wire as the number 0 (stk_callback_body), which is paid: not a failure code.
    values: dict[str, Any] = {
        "merchant_request_id": draw(ids),
        "checkout_request_id": draw(ids),
        "result_code": "0" if paid else draw(failure_codes.filter(lambda code: code.strip("0") != "")),
        "result_desc": draw(st.text(max_size=40)),
    }
    if paid:
        values |= {
            "amount_kes": draw(st.integers(1, 250_000)),
            "receipt": draw(receipts),
            "transaction_date": draw(moments),
            "phone": draw(phones),
        }
    return values


@given(callbacks(), st.randoms(use_true_random=False))
def test_a_callback_in_darajas_shape_comes_back_field_for_field_whatever_the_item_order(
    values: dict[str, Any], rng: Any
) -> None:
    body = stk_callback_body(**values)
    metadata = body["Body"]["stkCallback"].get("CallbackMetadata")
    if metadata is not None:
        rng.shuffle(metadata["Item"])  # read by Name, never by position (§4)
    parsed = parse_stk_callback(json.dumps(body).encode())
    assert parsed.merchant_request_id == values["merchant_request_id"]
    assert parsed.checkout_request_id == values["checkout_request_id"]
    code = values["result_code"]
    assert parsed.result_code == (str(int(code)) if code.isdigit() else code)  # numeric codes are numbers
    assert parsed.result_desc == values["result_desc"]
    assert parsed.succeeded is (values["result_code"] == "0")
    assert parsed.amount_kes == values.get("amount_kes")
    assert parsed.receipt == values.get("receipt")
    assert parsed.transaction_date == values.get("transaction_date")
    assert parsed.phone == values.get("phone")
    assert parsed.balance is None


non_whole = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=2).filter(
    lambda amount: amount != amount.to_integral_value()
)


@given(callbacks().filter(lambda values: values["result_code"] == "0"), non_whole)
def test_a_non_whole_amount_is_kept_exactly_but_is_no_shilling_count(
    values: dict[str, Any], amount: Decimal
) -> None:
    body = stk_callback_body(**values)
    for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
        if item["Name"] == "Amount":
            item["Value"] = "AMOUNT"
    text = json.dumps(body).replace('"AMOUNT"', str(amount))  # a decimal literal, as on the wire
    parsed = parse_stk_callback(text)
    assert parsed.amount == amount
    assert parsed.amount_kes is None


@given(callbacks().filter(lambda values: values["result_code"] == "0"))
def test_a_whole_amount_written_with_decimals_is_that_many_shillings(values: dict[str, Any]) -> None:
    body = stk_callback_body(**values)
    text = json.dumps(body).replace(
        f'{{"Name": "Amount", "Value": {values["amount_kes"]}}}',
        f'{{"Name": "Amount", "Value": {values["amount_kes"]}.00}}',
    )
    assert f"{values['amount_kes']}.00" in text
    assert parse_stk_callback(text).amount_kes == values["amount_kes"]
