"""The STK Query schedule: backed off, jittered, capped, and bounded by the wait deadline (pure)."""

from __future__ import annotations

import random

from pos_app.config import Timings
from pos_app.engine.settling import query_gaps


def test_gaps_grow_to_the_cap_within_the_jitter_and_stop_at_the_deadline() -> None:
    timings = Timings()
    for seed in range(20):
        gaps = query_gaps(timings, random.Random(seed))
        plain = [3.0, 4.8, 7.68, 12.0, 12.0]
        for gap, expected in zip(gaps, plain, strict=False):
            assert expected * 0.8 <= gap <= expected * 1.2
        assert all(gap <= timings.query_max_gap_s * (1 + timings.query_jitter) for gap in gaps)
        assert timings.relay_silence_s + sum(gaps[:-1]) < timings.wait_deadline_s


def test_two_tills_do_not_query_in_step() -> None:
    assert query_gaps(Timings(), random.Random(1)) != query_gaps(Timings(), random.Random(2))


def test_a_result_daraja_knows_is_seen_within_fifteen_seconds_at_most_between_queries() -> None:
    # The till promises to see a result within 15 s of Daraja knowing it: no gap may exceed 15 s, jitter
    # included.
    assert max(query_gaps(Timings(), random.Random(3))) <= 15.0
