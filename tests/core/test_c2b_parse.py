"""The C2B body parser (docs/daraja.md §6): what becomes a payment, what the payer's number is kept as,
and that no body, however odd, escapes as anything but a C2bNotification or a C2bParseError."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daraja_core.c2b import C2bNotification, C2bParseError, parse_c2b_notification

# Daraja's sample shape: every value a string (§6).
SAMPLE = {
    "TransactionType": "Pay Bill",
    "TransID": "RKTQDM7W6S",
    "TransTime": "20191122063845",
    "TransAmount": "10.00",
    "BusinessShortCode": "600638",
    "BillRefNumber": "invoice008",
    "InvoiceNumber": "",
    "OrgAccountBalance": "49197.00",
    "ThirdPartyTransID": "",
    "MSISDN": "2547 ***** 126",
    "FirstName": "John",
    "MiddleName": "",
    "LastName": "Doe",
}


def test_a_v2_confirmation_is_read_with_the_number_masked_and_the_time_in_utc() -> None:
    parsed = parse_c2b_notification(json.dumps(SAMPLE).encode())
    assert parsed == C2bNotification(
        trans_id="RKTQDM7W6S",
        transaction_type="Pay Bill",
        trans_time=datetime(2019, 11, 22, 3, 38, 45, tzinfo=UTC),
        amount_kes=10,
        shortcode="600638",
        bill_ref="invoice008",
        first_name="John",
        phone_masked="2547*****126",
    )


@pytest.mark.parametrize(
    ("msisdn", "kept"),
    [
        (hashlib.sha256(b"254708374149").hexdigest(), ""),  # v1: a digest is as good as the number
        ("254708374149", "2547*****149"),
        ("", ""),
        ("garbage", ""),
    ],
)
def test_the_payers_number_is_only_ever_kept_masked(msisdn: str, kept: str) -> None:
    assert parse_c2b_notification({**SAMPLE, "MSISDN": msisdn}).phone_masked == kept


@pytest.mark.parametrize(
    "change",
    [
        {"TransID": ""},
        {"TransID": None},
        {"TransAmount": "10.50"},
        {"TransAmount": "0.00"},
        {"TransAmount": "-5"},
        {"TransAmount": "NaN"},
        {"TransAmount": "1e999999"},
        {"BusinessShortCode": ""},
        {"BusinessShortCode": ["600638"]},
    ],
)
def test_a_body_that_cannot_be_a_payment_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(C2bParseError):
        parse_c2b_notification({**SAMPLE, **change})


def test_an_unreadable_transtime_leaves_the_time_unknown_not_the_payment() -> None:
    assert parse_c2b_notification({**SAMPLE, "TransTime": "yesterday"}).trans_time is None


@given(
    st.binary(max_size=300)
    | st.dictionaries(st.sampled_from(list(SAMPLE)), st.text(max_size=30)).map(json.dumps)
)
def test_any_body_is_a_notification_or_a_parse_error(body: bytes | str) -> None:
    with contextlib.suppress(C2bParseError):
        assert isinstance(parse_c2b_notification(body), C2bNotification)
