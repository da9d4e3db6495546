"""Market time: every time value is converted exactly or refused with the reason (issue #19)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import ContractError, validate_table
from gigmatch.core.times import (
    MAX_YEAR,
    MIN_YEAR,
    TimeValueError,
    format_market_times,
    market_now,
    to_market_time,
    to_market_times,
)

T = pd.Timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01", T("2026-01-01")),  # a date: midnight, not read as an offset of "-01"
        ("  2026-01-01  ", T("2026-01-01")),
        ("2026-01-01T10:30", T("2026-01-01T10:30")),
        ("2026-01-01 10:30:15", T("2026-01-01T10:30:15")),
        ("2026-01-01T10:30:15.123456789", T("2026-01-01T10:30:15.123456789")),  # nanoseconds kept
        ("2026-01-01T10:30:15Z", T("2026-01-01T18:30:15")),  # UTC -> market time (+08:00)
        ("2026-01-01T10:30:15+08:00", T("2026-01-01T10:30:15")),
        ("2026-01-01T10:30:15+0530", T("2026-01-01T13:00:15")),
        ("2026-01-01T10:30:15-05", T("2026-01-01T23:30:15")),
        ("20260101T103015+0800", T("2026-01-01T10:30:15")),  # ISO 8601 basic format
        ("1969-12-31T20:00:00-05:00", T("1970-01-01T09:00:00")),  # in range only after conversion
        ("2200-12-31T23:59:59.999999999", T("2200-12-31T23:59:59.999999999")),
        ("1988-07-01T12:00:00Z", T("1988-07-01T21:00:00")),  # China kept summer time 1986-1991
    ],
)
def test_times_are_converted_exactly(text, expected):
    assert to_market_time(text) == expected
    assert to_market_times([text])[0] == expected.to_datetime64()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0001-01-01T00:00:00.0+05:00", "outside the years"),  # the request: was a 500
        ("9999-12-31T00:00:00-05:00", "outside the years"),
        ("0001-01-01T00:00:00", "outside the years"),
        ("9999-12-31", "outside the years"),
        ("1969-12-31T23:00:00", "outside the years"),
        ("2201-01-01T07:00:00+08:00", "outside the years"),
        ("1970-01-01T07:00:00+16:00", "outside the years"),  # 1969-12-31T23:00 in market time
        ("2026-02-30", "not an ISO 8601"),
        ("2026-01-01T24:00:00", "not an ISO 8601"),
        ("2026-01-01T10:00:00+25:00", "not an ISO 8601"),
        ("yesterday", "not an ISO 8601"),
        (1_700_000_000, "not an ISO 8601"),  # epoch seconds are not a time here
        (True, "not an ISO 8601"),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))), "outside the years"),
        (dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "outside the years"),
        (np.datetime64("0001-01-01"), "outside the years"),
    ],
)
def test_bad_times_are_refused_with_the_reason(value, problem):
    with pytest.raises(TimeValueError, match=problem) as err:
        to_market_time(value)
    assert err.value.position == 0


def test_typed_values_and_missing_values():
    aware = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = to_market_times(
        [aware, dt.date(2026, 1, 2), T("2026-01-01T00:00:00.000000001"), None, "", " ", np.nan]
    )
    assert list(out[:3]) == [
        np.datetime64("2026-01-01T08:00:00", "ns"),
        np.datetime64("2026-01-02T00:00:00", "ns"),
        np.datetime64("2026-01-01T00:00:00.000000001", "ns"),
    ]
    assert np.isnat(out[3:]).all()


def test_typed_columns_of_any_unit_and_zone():
    naive = pd.Series(pd.to_datetime(["2026-01-01T10:00"]).as_unit("s"))
    aware = pd.Series(pd.to_datetime(["2026-01-01T10:00+00:00"]))
    assert to_market_times(naive)[0] == np.datetime64("2026-01-01T10:00", "ns")
    assert to_market_times(aware)[0] == np.datetime64("2026-01-01T18:00", "ns")
    with pytest.raises(TimeValueError, match="outside the years"):
        to_market_times(pd.Series(pd.to_datetime(["2026-01-01", "0001-01-01"]).as_unit("s")))


def test_the_first_bad_value_is_reported_by_position():
    with pytest.raises(TimeValueError) as err:
        to_market_times(["2026-01-01", "", "nope", "0001-01-01"])
    assert err.value.position == 2


def test_formatting_round_trips_to_the_nanosecond():
    values = pd.Series(
        to_market_times(["2026-01-01T10:30:00.123456789", "2026-01-01", None, "2026-06-01T00:00:00.5"])
    )
    text = format_market_times(values)
    assert text.tolist() == [
        "2026-01-01T10:30:00.123456789",
        "2026-01-01T00:00:00",
        "",
        "2026-06-01T00:00:00.5",
    ]
    np.testing.assert_array_equal(to_market_times(text), values.to_numpy())


def test_market_now_is_china_wall_clock():
    wall = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)  # no DST since 1991
    assert abs(market_now() - (wall - dt.datetime(1970, 1, 1)).total_seconds()) < 5


def test_every_time_column_of_every_table_uses_the_rule():
    for table, column, extra in (
        ("workers", "registered_at", {"worker_id": "w", "lat": 1, "lon": 1, "skills": ""}),
        ("jobs", "start_time", {"job_id": "j", "trade": "x", "lat": 1, "lon": 1}),
        ("events", "ts", {"job_id": "j", "worker_id": "w", "event": "shown"}),
    ):
        with pytest.raises(ContractError, match=f"row 1, column '{column}': .* is outside the years"):
            validate_table(pd.DataFrame([{**extra, column: "0001-01-01T00:00:00.0+05:00"}]), table)
        ok = validate_table(pd.DataFrame([{**extra, column: "2026-01-01T00:00:00Z"}]), table)
        assert ok.loc[0, column] == T("2026-01-01T08:00:00")
    from pydantic import ValidationError

    from service.schemas import EventsRequest

    body = {
        "events": [{"ts": "0001-01-01T00:00:00.0+05:00", "job_id": "j", "worker_id": "w", "event": "hired"}]
    }
    with pytest.raises(ValidationError, match="outside the years"):
        EventsRequest.model_validate(body)


def test_range_constants_are_the_documented_ones():
    assert (MIN_YEAR, MAX_YEAR) == (1970, 2200)


def test_the_fast_path_for_common_forms_reads_exactly_as_the_rule():
    """to_market_time reads common forms without pandas; it must agree with to_market_times always."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    texts = st.builds(
        lambda d, t, frac, off, sep, pad: (
            f"{pad}{d.isoformat()}{sep}{t.strftime('%H:%M:%S')}{frac}{off}{pad}"
        ),
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
        st.times(),
        st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567891"]),
        st.sampled_from(["", "Z", "+08:00", "+05:30", "-05:00", "+0000", "-11", "+23:59", "+24:00", "z"]),
        st.sampled_from(["T", " "]),
        st.sampled_from(["", " "]),
    ) | st.dates(min_value=dt.date(1960, 1, 1), max_value=dt.date(2210, 1, 1)).map(dt.date.isoformat)

    def read(reader, text):
        try:
            return reader(text)
        except TimeValueError as exc:
            return ("error", exc.problem)

    @settings(max_examples=500, deadline=None, database=None, derandomize=True)
    @given(text=texts)
    def check(text):
        fast = read(to_market_time, text)
        slow = read(lambda v: to_market_times([v])[0], text)
        if isinstance(slow, np.datetime64):
            slow = None if np.isnat(slow) else pd.Timestamp(slow)
        assert fast == slow, text

    check()
