"""The one UTC text form both programs store: round trip, order, refusal of naive times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daraja_core import utc_text

aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive; zones come from timezones=)
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5))]),
)


@given(aware)
def test_a_moment_survives_the_round_trip_as_the_same_instant_in_utc(moment: datetime) -> None:
    back = utc_text.decode(utc_text.encode(moment))
    assert back == moment and back.tzinfo is UTC


@given(aware, aware)
def test_text_order_is_time_order(first: datetime, second: datetime) -> None:
    a, b = utc_text.encode(first), utc_text.encode(second)
    assert (a < b) == (first < second) and len(a) == len(b)


def test_the_form_is_sqlalchemys_sqlite_datetime_text() -> None:
    moment = datetime(2026, 12, 1, 12, 30, 5, 42, tzinfo=timezone(timedelta(hours=3)))
    assert utc_text.encode(moment) == "2026-12-01 09:30:05.000042"


def test_the_tills_earlier_form_still_reads() -> None:
    assert utc_text.decode("2026-12-01T09:30:05.000042+00:00") == datetime(
        2026, 12, 1, 9, 30, 5, 42, tzinfo=UTC
    )


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_text.encode(datetime(2026, 1, 1))  # noqa: DTZ001 (naive on purpose)
