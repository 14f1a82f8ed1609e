import base64
from datetime import UTC, datetime

import pytest

from daraja_core.password import (
    SANDBOX_PASSKEY,
    nairobi_timestamp,
    parse_nairobi_timestamp,
    stk_password,
)


def test_password_matches_the_daraja_documentation_sample() -> None:
    # docs/daraja.md §2: the doc sample decodes to 174379 + passkey + 20210628092408.
    password = stk_password("174379", SANDBOX_PASSKEY, "20210628092408")
    assert base64.b64decode(password).decode() == "174379" + SANDBOX_PASSKEY + "20210628092408"


def test_timestamp_is_in_nairobi_time_three_hours_ahead_of_utc() -> None:
    assert nairobi_timestamp(datetime(2026, 11, 21, 22, 30, 5, tzinfo=UTC)) == "20261122013005"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        nairobi_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001 (a naive datetime is the input under test)


def test_daraja_transaction_dates_parse_back_to_utc() -> None:
    assert parse_nairobi_timestamp(20191219102115) == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_nairobi_timestamp("2019121910211")
