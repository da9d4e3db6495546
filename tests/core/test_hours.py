"""Workers' weekly hours: parsing, one-line errors, the contract column and the vectorised check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import ContractError, validate_table
from gigmatch.core.hours import (
    MINUTES_PER_WEEK,
    HoursError,
    WeeklyHours,
    hours_per_day,
    normalise_hours,
    parse_hours,
)


def sec(text: str) -> float:
    return pd.Timestamp(text).value / 1e9


def test_parse_merges_touching_windows_and_wraps_the_week():
    assert [(w.start, w.end) for w in parse_hours("mon 09:00-12:00;mon 12:00-15:00")] == [(540, 900)]
    # Sunday night into Monday morning is one window running past the week's end
    assert [(w.start, w.end) for w in parse_hours("sun 22:00-24:00;mon 00:00-06:00")] == [(9960, 10440)]
    assert [(w.start, w.end) for w in parse_hours("daily 00:00-24:00")] == [(0, 2 * MINUTES_PER_WEEK)]
    assert parse_hours("") == () and parse_hours(None) == ()
    assert len(parse_hours("mon-fri 09:00-15:00;sat 08:00-12:00")) == 6
    assert len(parse_hours("sat-mon 08:00-09:00")) == 3  # a range may wrap the week
    assert parse_hours("周一-周五 09:00-15:00") == parse_hours("mon-fri 09:00-15:00")


@pytest.mark.parametrize(
    "cell, words",
    [
        ("mon-fry 09:00-15:00", "unknown day 'fry'"),
        ("mon 9-15", "needs days then times"),
        ("mon 25:00-26:00", "not a time between"),
        ("mon 10:00-10:00", "empty time range"),
        ("mon 09:00", "not a time range"),
        ("09:00-10:00", "needs days then times"),
    ],
)
def test_bad_cells_get_one_line_errors(cell, words):
    with pytest.raises(HoursError) as err:
        parse_hours(cell)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_contract_column_names_row_and_column_and_normalises():
    raw = pd.DataFrame(
        {
            "worker_id": ["a", "b"],
            "lat": ["26.7", "26.7"],
            "lon": ["117.4", "117.4"],
            "skills": ["", ""],
            "available_hours": [" Mon-Fri  09:00-15:00 ", "mon-fry 09:00-15:00"],
        }
    )
    with pytest.raises(
        ContractError, match=r"^workers: row 2, column 'available_hours': .*unknown day 'fry'"
    ):
        validate_table(raw, "workers")
    good = validate_table(raw.iloc[:1], "workers")
    assert good["available_hours"].tolist() == ["mon-fri 09:00-15:00"]
    assert np.isnan(good["max_hours_per_day"].iloc[0])
    with pytest.raises(ContractError, match="max_hours_per_day"):
        validate_table(raw.iloc[:1].assign(max_hours_per_day="25"), "workers")
    assert normalise_hours(good["available_hours"].iloc[0]) == good["available_hours"].iloc[0]


def brute_fits(cell: str, start_s: float, end_s: float) -> bool:
    """Minute by minute: every minute of the job lies in the union of windows (and in one piece)."""
    if not parse_hours(cell):
        return True
    free = np.zeros(MINUTES_PER_WEEK, dtype=bool)
    for w in parse_hours(cell):
        idx = np.arange(w.start, w.end) % MINUTES_PER_WEEK
        free[idx] = True
    s = int(round(start_s / 60 + 3 * 1440)) % MINUTES_PER_WEEK
    n = int(round((end_s - start_s) / 60))
    return bool(free[(s + np.arange(n)) % MINUTES_PER_WEEK].all())


def test_vectorised_fit_equals_minute_by_minute_check():
    rng = np.random.default_rng(3)
    cells = [
        "",
        "mon-fri 09:00-15:00;sat 08:00-12:00",
        "sun 22:00-24:00;mon 00:00-06:00",
        "fri-mon 22:00-06:00",
        "daily 06:00-09:00,17:00-21:00",
        "daily 00:00-24:00",
        "wed 12:00-13:00",
    ]
    hours = WeeklyHours.from_cells(cells)
    n = 4000
    worker = rng.integers(0, len(cells), n)
    start = sec("2030-01-07") + rng.integers(0, 14 * 96, n) * 900.0  # quarter hours over two weeks
    end = start + rng.integers(1, 48, n) * 900.0
    got = hours.fits(worker, start, end)
    want = np.array([brute_fits(cells[w], s, e) for w, s, e in zip(worker, start, end, strict=True)])
    assert (got == want).all()
    assert want.sum() > 500 and (~want).sum() > 500  # both outcomes exercised


def test_hours_per_day_splits_a_night_shift():
    day0 = sec("2030-01-07")
    h = hours_per_day(np.array([sec("2030-01-07T22:00")]), np.array([sec("2030-01-08T06:00")]), day0, 3)
    assert h.tolist() == [[2.0, 6.0, 0.0]]


def test_api_body_refuses_bad_hours_with_the_contracts_words():
    from pydantic import ValidationError

    from service.schemas import WorkerIn

    ok = WorkerIn(lat=26.7, lon=117.4, skills=[], available_hours=" Mon-Fri 09:00-15:00", max_hours_per_day=6)
    assert ok.available_hours == "mon-fri 09:00-15:00"
    with pytest.raises(ValidationError) as err:
        WorkerIn(lat=26.7, lon=117.4, skills=[], available_hours="mon-fry 09:00-15:00")
    assert "available_hours" in str(err.value) and "unknown day 'fry'" in str(err.value)
    with pytest.raises(ValidationError, match="max_hours_per_day"):
        WorkerIn(lat=26.7, lon=117.4, skills=[], max_hours_per_day=30)
