"""Market time: the one place where a time value from a file, an API body or a query is read.

Every time in gigmatch is *market-local wall-clock time* (China, ``Asia/Shanghai``), stored as naive
``datetime64[ns]``. :func:`to_market_times` turns any input into that, or says exactly which value is
wrong and why; the contract (files), the API's request models and query parameters all call it, so
there is one rule:

- ISO 8601, extended or basic format, as pandas' ISO 8601 parser reads it: ``YYYY-MM-DD``, or a date
  and a time joined by ``T`` or a space, with an optional fraction of a second (kept to the
  nanosecond; further digits are dropped), optionally followed by ``Z`` or an offset ``+HH``,
  ``+HHMM`` or ``+HH:MM``. Leading and trailing blanks are ignored.
- A time without an offset is market wall-clock time as given. A time with an offset is converted to
  market time exactly, by pandas in integer nanoseconds, never through ``datetime.astimezone``, which
  overflows at the edges of its range (``0001-01-01T00:00+05:00`` used to crash the events endpoint).
- After conversion the time must lie in the years ``MIN_YEAR``-``MAX_YEAR``; anything else (year 1,
  year 9999, a date that does not exist, a number, free text) is refused with a message that says
  which of these it is.

Typed values are accepted too: ``datetime``/``pandas.Timestamp`` (naive = market time, aware =
converted), ``datetime.date`` (midnight) and ``datetime64`` of any unit (naive), which is what Parquet
files hold.

:func:`market_now` is the current market wall-clock time in the same encoding (seconds since
1970-01-01 of the market clock), which is what "now" must be compared with; ``time.time()`` is UTC and
would put every job's start eight hours late.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MARKET_TIMEZONE = "Asia/Shanghai"  # naive times in the data are market wall-clock time
MARKET_TZ = zoneinfo.ZoneInfo(MARKET_TIMEZONE)
MIN_YEAR, MAX_YEAR = 1970, 2200


class TimeValueError(ValueError):
    """A time value that cannot be read. ``position`` is its index in the input, ``value`` the input."""

    def __init__(self, position: int, value: Any, problem: str):
        self.position = position
        self.value = value
        self.problem = problem
        super().__init__(f"{value!r} {problem}")


NOT_ISO = "is not an ISO 8601 date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM])"
OUT_OF_RANGE = f"is outside the years {MIN_YEAR}-{MAX_YEAR} (in market time)"


# ---------------------------------------------------------------------------------------------------

_MISSING_TEXT = ("", "nan", "NaN", "None", "NaT", "<NA>")
# an offset after a time of day ("-01" ending a plain date is the day, not an offset)
_TZ_SUFFIX = r"[Tt ]\d.*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_YEAR = re.compile(r"^\s*([+-]?\d{4,})")


def to_market_times(values: Sequence[Any] | pd.Series | np.ndarray) -> np.ndarray:
    """Read many time values as market wall-clock time.

    Parameters
    ----------
    values : sequence of shape (n,)
        Strings, ``datetime``/``date``/``Timestamp`` objects, ``datetime64`` values, or missing values
        (None, NaN, NaT, empty or blank strings).

    Returns
    -------
    ndarray of shape (n,), dtype ``datetime64[ns]``; NaT where the input is missing.

    Raises
    ------
    TimeValueError
        For the first value (in input order) that is neither missing nor a valid time in range.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):  # a typed (Parquet) column, any unit or zone
        return _from_typed(series)
    out = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[ns]")
    errors: list[tuple[int, str]] = []
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        text_pos = np.arange(len(series))
    else:  # an object column: strings, typed objects and junk, told apart once
        kinds = np.array([_kind(v) for v in series.tolist()], dtype=object)
        text_pos = np.flatnonzero(kinds == "str")
        for pos in np.flatnonzero(kinds == "typed"):
            try:
                out[pos] = _from_object(series.iloc[pos])
            except TimeValueError as exc:
                errors.append((int(pos), exc.problem))
        errors += [(int(pos), NOT_ISO) for pos in np.flatnonzero(kinds == "bad")]
    if len(text_pos):
        _parse_text(series.iloc[text_pos], text_pos, out, errors)
    if errors:
        pos, problem = min(errors)
        raise TimeValueError(pos, series.iloc[pos], problem)
    return out


def to_market_time(value: Any) -> pd.Timestamp | None:
    """One value as :func:`to_market_times` reads it: a naive ``Timestamp`` (ns), or None if missing.

    Raises
    ------
    TimeValueError
        When the value is not a valid time in range.
    """
    if isinstance(value, str):
        fast = _common_form(value)
        if fast is not None:
            return fast
    out = to_market_times([value])[0]
    return None if np.isnat(out) else pd.Timestamp(out)


# The common forms, read without pandas (about 5 us instead of 1.3 ms per value: an event batch pays
# it per event). Anything else, and every value that is not plainly valid and in range, goes through
# the vectorised reader, which is the rule; a property test proves both read the same.
_COMMON = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?\s*$"
)
_UTC = dt.UTC


def _common_form(text: str) -> pd.Timestamp | None:
    m = _COMMON.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    if not MIN_YEAR < int(y) < MAX_YEAR:  # the edges of the range go the long way (offsets may cross)
        return None
    try:
        wall = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0))
    except ValueError:
        return None
    if tz:
        if tz == "Z":
            offset = dt.timedelta(0)
        else:
            digits = tz[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 23 or minutes > 59:
                return None
            offset = (-1 if tz[0] == "-" else 1) * dt.timedelta(hours=hours, minutes=minutes)
        wall = (wall - offset).replace(tzinfo=_UTC).astimezone(MARKET_TZ).replace(tzinfo=None)
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return pd.Timestamp(wall) + pd.Timedelta(nanoseconds=nanos) if nanos else pd.Timestamp(wall)


def market_now() -> float:
    """The market's wall-clock time now, in seconds since 1970-01-01 of the market clock.

    The same encoding as every stored time (naive market time read as if it were UTC), so that
    ``start_s <= market_now()`` means "has started" in the market.
    """
    now = time.time()
    return now + dt.datetime.fromtimestamp(now, MARKET_TZ).utcoffset().total_seconds()


def format_market_times(values: pd.Series) -> pd.Series:
    """Times as ISO 8601 text: whole seconds always, a fraction only when there is one (exact to the ns).

    Missing times become ``""``. :func:`to_market_times` reads the text back to the same values.
    """
    ts = pd.Series(pd.to_datetime(values).to_numpy(dtype="datetime64[ns]"), index=values.index)
    base = ts.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    ns = (ts - ts.dt.floor("s")).to_numpy(dtype="timedelta64[ns]").astype(np.int64)
    text = [
        "" if b is None or b != b else b if f == 0 else f"{b}.{f:09d}".rstrip("0")
        for b, f in zip(base, ns, strict=True)
    ]
    return pd.Series(text, index=values.index, dtype=object)


def _kind(v: Any) -> str:
    if v is None or v is pd.NaT or v is pd.NA:
        return "missing"
    if isinstance(v, str):
        return "missing" if v.strip() in _MISSING_TEXT else "str"
    if isinstance(v, np.datetime64):
        return "missing" if np.isnat(v) else "typed"
    if isinstance(v, (dt.datetime, dt.date)):
        return "typed"
    if isinstance(v, float) and v != v:
        return "missing"
    return "bad"


def _parse_text(raw: pd.Series, pos: np.ndarray, out: np.ndarray, errors: list) -> None:
    """Vectorised: pandas' ISO 8601 parser (C), offsets converted by pandas, then the range check."""
    text = raw.astype("string[pyarrow]").str.strip()
    missing = (text.isna() | text.isin(_MISSING_TEXT)).to_numpy(dtype=bool)
    aware = text.str.contains(_TZ_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool) & ~missing
    naive = ~aware & ~missing
    for mask, utc in ((naive, False), (aware, True)):
        if not mask.any():
            continue
        parsed = pd.to_datetime(text[mask], format="ISO8601", errors="coerce", utc=utc)
        if utc:
            parsed = parsed.dt.tz_convert(MARKET_TIMEZONE).dt.tz_localize(None)
        where = pos[mask]
        failed = parsed.isna().to_numpy()
        for k in np.flatnonzero(failed):
            errors.append((int(where[k]), _why_unreadable(str(text[mask].iloc[k]))))
        ok_pos, ok_ts = where[~failed], parsed[~failed]
        in_range = ((ok_ts.dt.year >= MIN_YEAR) & (ok_ts.dt.year <= MAX_YEAR)).to_numpy(dtype=bool)
        errors += [(int(p), OUT_OF_RANGE) for p in ok_pos[~in_range]]
        out[ok_pos[in_range]] = ok_ts[in_range].to_numpy(dtype="datetime64[ns]")


def _why_unreadable(text: str) -> str:
    """Year out of range, or not a time at all (only called for values pandas could not read)."""
    year = _YEAR.match(text)
    if year and not (MIN_YEAR - 1 <= int(year.group(1)) <= MAX_YEAR + 1):
        return OUT_OF_RANGE
    return NOT_ISO


def _from_typed(series: pd.Series) -> np.ndarray:
    """A typed datetime column (naive = market time; aware = converted), range-checked."""
    if series.dt.tz is not None:
        series = series.dt.tz_convert(MARKET_TIMEZONE).dt.tz_localize(None)
    missing = series.isna().to_numpy()
    year = series.dt.year.to_numpy(dtype=float)
    bad = ~missing & ((year < MIN_YEAR) | (year > MAX_YEAR))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise TimeValueError(pos, series.iloc[pos], OUT_OF_RANGE)
    return series.to_numpy(dtype="datetime64[ns]")


def _from_object(v: Any) -> np.datetime64:
    """One typed value (datetime, date, Timestamp or datetime64) in market time, range-checked."""
    try:
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = dt.datetime(v.year, v.month, v.day)
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_convert(MARKET_TIMEZONE).tz_localize(None)
    except (OverflowError, ValueError) as exc:  # pandas' OutOfBoundsDatetime is a ValueError
        raise TimeValueError(0, v, OUT_OF_RANGE) from exc
    if not MIN_YEAR <= ts.year <= MAX_YEAR:
        raise TimeValueError(0, v, OUT_OF_RANGE)
    return ts.as_unit("ns").to_datetime64()
