"""The market data contract: table schemas, reading, validation and writing.

A market is a folder of tables (``workers``, ``jobs``, ``employers``, ``events``, and optionally its own
vocabulary: ``trades`` and ``certificates``), each a ``.csv`` or ``.parquet`` file chosen by extension.
CSV files are read as UTF-8 (with or without a byte-order mark) or GB18030, the encoding Chinese
Excel saves in. Every table is validated once, here, at the boundary; the rest of the code trusts the
normalised frames this module returns. Trade and certificate codes are normalised through the market's
vocabulary (:mod:`gigmatch.core.taxonomy`), its own when it declares one, else the built-in one.

A bad file is refused with one line naming the file, the row and the column, e.g.::

    workers.csv: row 17, column 'lat': 91.0 is outside [-90, 90]

Rows are counted from 1 over data rows (the header is not a row), so row N of a CSV file is on line N+1.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigmatch.core.defaults import DEFAULT_MAX_TRAVEL_KM  # also importable from here, its old home
from gigmatch.core.hours import HoursError, normalise_hours
from gigmatch.core.taxonomy import Taxonomy, VocabularyError, default_taxonomy
from gigmatch.core.times import TimeValueError, format_market_times, to_market_times

EVENT_TYPES = ("shown", "declined", "applied", "hired", "completed", "no_show", "rated")
TABLES = ("workers", "jobs", "employers", "events")
VOCABULARY_TABLES = ("trades", "certificates")  # optional: a market's own vocabulary
REQUIRED_TABLES = ("workers", "jobs")
ENCODINGS = ("utf-8-sig", "gb18030")  # CSV files: UTF-8 with or without BOM, then Chinese Excel's default
MAX_HEADCOUNT = 10_000
# cells holding one of these (after stripping blanks) are missing, as spreadsheet and pandas exports write them
MISSING_MARKERS = ("", "nan", "NaN", "None", "NaT", "<NA>")
MAX_ID_LENGTH = 200  # ids and other text cells
MAX_CODE_LENGTH = 100  # one trade or certificate token in a list cell (with its years or expiry)
MAX_LIST_ITEMS = 100  # tokens in one list cell
MAX_COUNT = 10_000_000  # ratings, completed jobs, no-shows: more than a lifetime of day jobs
MAX_LIST_POSITION = 100_000  # positions in a shown list: far beyond any list a person scrolls
MAX_EXACT_INT = 2**53  # integers are read through float64; beyond this they would not be exact
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# control characters (tab, newline, carriage return, NUL, ...) in an id or a code are never meant: they
# break CSV rows, logs and terminal output, so they are refused rather than stored
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_RE2 = r"[\x{00}-\x{1f}\x{7f}-\x{9f}]"  # the same class in RE2 syntax, for pyarrow.compute
EVENT_ID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # the time part of a default event_id


class ContractError(ValueError):
    """A table breaks the data contract. The message is one line naming file, row and column."""


@dataclass(frozen=True)
class Column:
    """One column of a table: its kind, whether it is required, its default and valid range."""

    name: str
    kind: str  # id | str | float | int | bool | datetime | list | skills | certs | related | event | hours
    required: bool = False
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    doc: str = ""
    vocab: str | None = None  # "trade" | "certificate": codes normalised through the market's vocabulary


SCHEMAS: dict[str, list[Column]] = {
    "workers": [
        Column("worker_id", "id", True, doc="unique worker id"),
        Column("lat", "float", True, lo=-90, hi=90, doc="home latitude, WGS84 degrees"),
        Column("lon", "float", True, lo=-180, hi=180, doc="home longitude, WGS84 degrees"),
        Column(
            "skills",
            "skills",
            True,
            doc="trade codes, each optionally `code:years`; may be empty",
            vocab="trade",
        ),
        Column(
            "certificates",
            "certs",
            default="",
            doc="certificate codes, each optionally `code@YYYY-MM-DD` expiry",
            vocab="certificate",
        ),
        Column("preferred_trades", "list", default="", doc="trades the worker wants to do", vocab="trade"),
        Column(
            "rating_avg",
            "float",
            default=np.nan,
            lo=1,
            hi=5,
            doc="mean rating before the event log, 1-5; empty: none",
        ),
        Column(
            "rating_count", "int", default=0, lo=0, hi=MAX_COUNT, doc="number of ratings behind rating_avg"
        ),
        Column(
            "jobs_completed", "int", default=0, lo=0, hi=MAX_COUNT, doc="jobs completed before the event log"
        ),
        Column("no_shows", "int", default=0, lo=0, hi=MAX_COUNT, doc="no-shows before the event log"),
        Column(
            "max_travel_km",
            "float",
            default=DEFAULT_MAX_TRAVEL_KM,
            lo=0,
            hi=20_000,
            doc="farthest the worker will travel, km",
        ),
        Column(
            "min_daily_wage",
            "float",
            default=np.nan,
            lo=0,
            hi=1e6,
            doc="lowest acceptable daily wage, yuan; empty: any",
        ),
        Column("registered_at", "datetime", default=pd.NaT, doc="registration time"),
        Column(
            "available_from", "datetime", default=pd.NaT, doc="(extension) first day available; empty: now"
        ),
        Column(
            "available_until", "datetime", default=pd.NaT, doc="(extension) last day available; empty: open"
        ),
        Column(
            "available_hours",
            "hours",
            default="",
            doc="weekly windows, market time, e.g. `mon-fri 09:00-15:00;sat 08:00-12:00`; empty: any time",
        ),
        Column(
            "max_hours_per_day",
            "float",
            default=np.nan,
            lo=0,
            hi=24,
            doc="most hours of work on one calendar day (multi-day runs); empty: no cap",
        ),
    ],
    "jobs": [
        Column("job_id", "id", True, doc="unique job id"),
        Column("trade", "str", True, doc="trade code (or a name/synonym from the vocabulary)", vocab="trade"),
        Column("lat", "float", True, lo=-90, hi=90, doc="work-site latitude, WGS84 degrees"),
        Column("lon", "float", True, lo=-180, hi=180, doc="work-site longitude, WGS84 degrees"),
        Column("headcount", "int", default=1, lo=1, hi=MAX_HEADCOUNT, doc="workers wanted (slots)"),
        Column("employer_id", "str", default="", doc="posting employer"),
        Column(
            "required_certificates",
            "list",
            default="",
            doc="certificates required on top of the trade's own",
            vocab="certificate",
        ),
        Column("daily_wage", "float", default=np.nan, lo=0, hi=1e6, doc="offered daily wage, yuan"),
        Column("start_time", "datetime", default=pd.NaT, doc="work starts"),
        Column("end_time", "datetime", default=pd.NaT, doc="work ends"),
        Column("posted_at", "datetime", default=pd.NaT, doc="posting time"),
        Column("risk_level", "int", default=1, lo=1, hi=4, doc="insurance risk class 1-4"),
    ],
    "employers": [
        Column("employer_id", "id", True, doc="unique employer id"),
        Column("rating_avg", "float", default=np.nan, lo=1, hi=5, doc="mean rating by workers, 1-5"),
        Column("rating_count", "int", default=0, lo=0, hi=MAX_COUNT, doc="number of ratings"),
        Column("blacklisted", "bool", default=False, doc="wage arrears (欠薪黑名单): never matched"),
    ],
    "events": [
        Column("ts", "datetime", True, doc="event time"),
        Column("job_id", "str", True, doc="job the event is about"),
        Column("worker_id", "str", True, doc="worker the event is about"),
        Column("event", "event", True, doc="one of " + ", ".join(EVENT_TYPES)),
        Column("rating", "float", default=np.nan, lo=1, hi=5, doc="rating 1-5, required for `rated`"),
        Column("event_id", "str", default="", doc="idempotency key; default job|worker|event|ts"),
        # logged-feedback columns (issue #17): where the worker stood in the list shown, which policy
        # produced the list, and how likely that policy was to put the worker there
        Column(
            "position",
            "int",
            default=np.nan,
            lo=1,
            hi=MAX_LIST_POSITION,
            doc="where the worker stood in the list that was shown, 1 = first; empty: unknown",
        ),
        Column("policy", "str", default="", doc="model version or policy that produced the list shown"),
        Column(
            "propensity",
            "float",
            default=np.nan,
            lo=0,
            hi=1,
            doc="probability that the policy put this worker at this position (see README); empty: unknown",
        ),
    ],
    "trades": [
        Column("trade", "id", True, doc="trade code"),
        Column("name_zh", "str", default="", doc="Chinese name (read as this trade in every table)"),
        Column("name_en", "str", default="", doc="English name (read as this trade)"),
        Column("synonyms", "list", default="", doc="other names read as this trade"),
        Column(
            "required_certificates",
            "list",
            default="",
            doc="certificate codes every job of the trade needs",
            vocab="certificate",
        ),
        Column("skill_required", "bool", default=True, doc="false: entry-level, anyone may take it"),
        Column(
            "related", "related", default="", doc="`code:credit` skill credit from related trades, (0, 1]"
        ),
        Column("typical_daily_wage", "float", default=np.nan, lo=0, hi=1e6, doc="typical daily wage, yuan"),
    ],
    "certificates": [
        Column("certificate", "id", True, doc="certificate code"),
        Column("name_zh", "str", default="", doc="Chinese name (read as this certificate)"),
        Column("name_en", "str", default="", doc="English name (read as this certificate)"),
        Column("synonyms", "list", default="", doc="other names read as this certificate"),
    ],
}


_COLUMNS = {table: {c.name: c for c in cols} for table, cols in SCHEMAS.items()}


@dataclass(frozen=True)
class NotBefore:
    """A table rule: ``column`` may not be earlier than ``other`` (both times; missing ones pass)."""

    column: str
    other: str

    @property
    def message(self) -> str:
        """The error text after the column name, e.g. ``is before start_time``."""
        return f"is before {self.other}"

    def violations(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows breaking the rule, shape (n_rows,) bool, over a normalised frame."""
        return (frame[self.column] < frame[self.other]).to_numpy(dtype=bool)

    def violated_by(self, record: dict) -> bool:
        """Whether one typed record (missing values None) breaks the rule."""
        a, b = record.get(self.column), record.get(self.other)
        return a is not None and b is not None and a < b


@dataclass(frozen=True)
class RequiredWhen:
    """A table rule: ``column`` is required in rows whose ``when_column`` is ``when_value``."""

    column: str
    when_column: str
    when_value: str

    @property
    def message(self) -> str:
        """The error text after the column name, e.g. ``is required for a 'rated' event``."""
        return f"is required for a '{self.when_value}' {self.when_column}"

    def violations(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows breaking the rule, shape (n_rows,) bool, over a normalised frame."""
        when = (frame[self.when_column] == self.when_value).to_numpy(dtype=bool)
        return when & pd.isna(frame[self.column]).to_numpy(dtype=bool)

    def violated_by(self, record: dict) -> bool:
        """Whether one typed record (missing values None) breaks the rule."""
        return record.get(self.when_column) == self.when_value and record.get(self.column) is None


# rules across columns of one row, declared once: the file validator and the API's request models
# (generated from this module) both apply them
TABLE_RULES: dict[str, tuple] = {
    "jobs": (NotBefore("end_time", "start_time"),),
    "events": (RequiredWhen("rating", "event", "rated"),),
}
# list kinds whose tokens carry a number, and the column it is returned in
_EXTRA_COLUMN = {"skills": "skill_years", "certs": "certificate_expiry", "related": "related_credit"}


@dataclass
class Market:
    """A validated market: normalised frames, one per table (``employers`` and ``events`` may be empty).

    ``taxonomy`` is the vocabulary the frames were normalised with: the market's own (read from its
    ``trades`` and ``certificates`` tables) or the built-in one.
    """

    workers: pd.DataFrame
    jobs: pd.DataFrame
    employers: pd.DataFrame = field(default_factory=lambda: empty_table("employers"))
    events: pd.DataFrame = field(default_factory=lambda: empty_table("events"))
    source: str = ""
    taxonomy: Taxonomy = field(default_factory=default_taxonomy)


_NO_VOCABULARY = Taxonomy([], [], source="none")  # codes kept as given


class Readings(Counter):
    """How codes in the tables were read: ``(vocab, column, text, code, how) -> count``.

    Pass one to :func:`validate_table` or :func:`load_market` to collect it (the vocabulary report of
    ``gigmatch validate``); ``how`` is ``code``, ``name``, ``synonym`` or ``unknown``.
    """


def empty_table(table: str) -> pd.DataFrame:
    """A normalised ``table`` with no rows: every schema column present and typed, as
    :func:`validate_table` returns it (the default for a market's missing ``employers``/``events``).
    """
    return validate_table(pd.DataFrame({c.name: pd.Series([], dtype=object) for c in SCHEMAS[table]}), table)


# ---------------------------------------------------------------------------------------------------
# cell parsers


def _fail(source: str, pos: int, column: str, message: str) -> ContractError:
    return ContractError(f"{source}: row {pos + 1}, column '{column}': {message}")


def _is_missing(raw: pd.Series) -> np.ndarray:
    as_str = raw.astype(str).str.strip()
    return (raw.isna() | as_str.isin(MISSING_MARKERS)).to_numpy()


def _split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v) for v in value if v is not None]
    else:
        if isinstance(value, float) and np.isnan(value):
            return []
        items = str(value).split(";")
    return [s.strip() for s in items if s.strip()]


def _parse_date(text: str) -> pd.Timestamp | None:
    if not _DATE_RE.match(text):
        return None
    try:
        return pd.Timestamp(text)
    except ValueError:
        return None


def _parse_numbers(raw: pd.Series, col: Column, source: str, integer: bool) -> np.ndarray:
    missing = _is_missing(raw)
    values = pd.to_numeric(raw.where(~missing), errors="coerce").to_numpy(dtype=float, copy=True)
    bad = ~missing & ~np.isfinite(values)
    if col.required:
        bad |= missing
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        what = "is required" if missing[pos] else f"{raw.iloc[pos]!r} is not a finite number"
        raise _fail(source, pos, col.name, what)
    if integer:
        huge = ~missing & (np.abs(values) > MAX_EXACT_INT)
        if huge.any():
            pos = int(np.flatnonzero(huge)[0])
            raise _fail(source, pos, col.name, f"{raw.iloc[pos]!r} is too large for a whole number")
        frac = ~missing & (values != np.round(values))
        if frac.any():
            pos = int(np.flatnonzero(frac)[0])
            raise _fail(source, pos, col.name, f"{raw.iloc[pos]!r} is not a whole number")
    for bound, cmp in ((col.lo, np.less), (col.hi, np.greater)):
        if bound is None:
            continue
        out = ~missing & cmp(values, bound)
        if out.any():
            pos = int(np.flatnonzero(out)[0])
            rng = f"[{_fmt(col.lo)}, {_fmt(col.hi)}]" if col.hi is not None else f">= {_fmt(col.lo)}"
            raise _fail(source, pos, col.name, f"{raw.iloc[pos]} is outside {rng}")
    values[missing] = np.nan if col.default is None else col.default
    if integer and _may_be_missing(col):
        return values  # whole numbers as float64, NaN where missing (int64 has no missing value)
    return values.astype(np.int64) if integer else values


def _may_be_missing(col: Column) -> bool:
    """Whether an optional column's default is a missing value (NaN), as ``position`` is."""
    return isinstance(col.default, float) and np.isnan(col.default)


def _fmt(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _parse_datetime(raw: pd.Series, col: Column, source: str) -> pd.Series:
    """A time column read by :func:`gigmatch.core.times.to_market_times`, the one rule for every time."""
    missing = _is_missing(raw)
    if col.required and missing.any():
        raise _fail(source, int(np.flatnonzero(missing)[0]), col.name, "is required")
    try:
        values = to_market_times(raw)
    except TimeValueError as exc:
        raise _fail(source, exc.position, col.name, str(exc)) from None
    return pd.Series(values, index=raw.index)


def _parse_hours(raw: pd.Series, col: Column, source: str) -> np.ndarray:
    """Weekly windows (:mod:`gigmatch.core.hours`), stored in their normalised text; "" is any time."""
    values = _parse_ids(raw, col, source)
    out = np.empty(len(values), dtype=object)
    seen: dict[str, str] = {}  # many workers share a timetable
    for pos, text in enumerate(values):
        if text not in seen:
            try:
                seen[text] = normalise_hours(text)
            except HoursError as exc:
                raise _fail(source, pos, col.name, str(exc)) from None
        out[pos] = seen[text]
    return out


def _parse_bool(raw: pd.Series, col: Column, source: str) -> np.ndarray:
    text = raw.astype(str).str.strip().str.lower()
    missing = _is_missing(raw)
    true = text.isin(["1", "true", "yes", "y", "t", "1.0"]).to_numpy()
    false = text.isin(["0", "false", "no", "n", "f", "0.0"]).to_numpy()
    bad = ~missing & ~true & ~false
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise _fail(source, pos, col.name, f"{raw.iloc[pos]!r} is not a boolean (true/false/1/0)")
    return np.where(missing, bool(col.default), true)


def _parse_ids(raw: pd.Series, col: Column, source: str) -> pd.api.extensions.ExtensionArray:
    missing = _is_missing(raw)
    if col.required and missing.any():
        raise _fail(source, int(np.flatnonzero(missing)[0]), col.name, "is required")
    # the cells stay Arrow strings (pandas' ``str`` dtype, what the validated frame holds anyway) and
    # are checked in Arrow's compiled kernels: a Python string object per cell cost ~1 s and ~250 MB
    # per million cells (12 million events at 1,000,000 workers)
    text = raw.astype(str).str.strip().mask(missing, "" if col.default is None else col.default)
    cells = pa.array(text.array, type=pa.large_string())
    too_long = pc.greater(pc.utf8_length(cells), MAX_ID_LENGTH).to_numpy(zero_copy_only=False)
    if too_long.any():
        pos = int(np.flatnonzero(too_long)[0])
        raise _fail(source, pos, col.name, f"is longer than {MAX_ID_LENGTH} characters")
    control = pc.match_substring_regex(cells, _CONTROL_RE2).to_numpy(zero_copy_only=False)
    if control.any():
        pos = int(np.flatnonzero(control)[0])
        raise _fail(source, pos, col.name, f"{text.iloc[pos]!r} contains a control character")
    if col.kind == "id":
        dup = text.duplicated().to_numpy()
        if dup.any():
            pos = int(np.flatnonzero(dup)[0])
            first = int(np.flatnonzero((text == text.iloc[pos]).to_numpy())[0])
            raise _fail(source, pos, col.name, f"duplicate id {text.iloc[pos]!r} (first at row {first + 1})")
    return text.array


def _normaliser(col: Column, tax: Taxonomy, readings: Readings | None, table: str):
    """``text -> code`` for the column's vocabulary (identity without one), recording readings if asked."""
    if col.vocab is None:
        return lambda text: str(text).strip()
    read = tax.read_trade if col.vocab == "trade" else tax.read_certificate
    if readings is None:
        return tax.trade_code if col.vocab == "trade" else tax.certificate_code

    def normalise(text: str) -> str:
        reading = read(text)
        readings[(col.vocab, f"{table}.{col.name}", str(text).strip(), reading.code, reading.how)] += 1
        return reading.code

    return normalise


def _parse_token_lists(
    raw: pd.Series, col: Column, source: str, normalise, *, memo: bool = False
) -> tuple[list[list[str]], list[list[float]] | None]:
    """Split list cells; normalise codes; parse `code:years` (skills), `code@date` (certificates) or
    `code:credit` (related trades).

    With ``memo``, a text cell equal to an earlier one gets copies of that cell's lists instead of
    being parsed again (a province's workers share most cells: empty certificates, common trade
    lists); the first bad cell is still the first one reported, as it is parsed first.
    """
    codes_out: list[list[str]] = []
    extra_out: list[list[float]] = []
    seen: dict[str, tuple[list[str], list[float]]] = {}
    for pos, value in enumerate(raw.tolist()):
        if memo and isinstance(value, str) and value in seen:
            codes_seen, extra_seen = seen[value]
            codes_out.append(list(codes_seen))
            extra_out.append(list(extra_seen))
            continue
        codes: list[str] = []
        extra: list[float] = []
        for token in _split_list(value):
            if _CONTROL.search(token):
                raise _fail(source, pos, col.name, f"{token!r} contains a control character")
            if len(token) > MAX_CODE_LENGTH:
                raise _fail(
                    source, pos, col.name, f"{token[:20]!r}... is longer than {MAX_CODE_LENGTH} characters"
                )
            if col.kind == "skills":
                code, sep, years = token.partition(":")
                try:
                    y = float(years) if sep else 0.0
                except ValueError:
                    y = float("nan")
                if not (np.isfinite(y) and 0 <= y <= 80):
                    raise _fail(source, pos, col.name, f"{token!r}: years must be a number 0-80 after ':'")
                extra.append(y)
            elif col.kind == "related":
                code, sep, credit = token.rpartition(":")
                try:
                    c = float(credit) if sep else float("nan")
                except ValueError:
                    c = float("nan")
                if not (np.isfinite(c) and 0 < c <= 1):
                    raise _fail(source, pos, col.name, f"{token!r}: needs a credit in (0, 1] after ':'")
                extra.append(c)
            elif col.kind == "certs":
                code, sep, date = token.partition("@")
                if sep:
                    ts = _parse_date(date.strip())
                    if ts is None:
                        raise _fail(source, pos, col.name, f"{token!r}: expiry must be YYYY-MM-DD after '@'")
                    extra.append(float(ts.value // 86_400_000_000_000))  # days since 1970-01-01
                else:
                    extra.append(np.inf)  # no expiry
            else:
                code = token
            code = normalise(code)
            if not code:
                raise _fail(source, pos, col.name, f"{token!r} has an empty code")
            if code in codes:  # a code listed twice in one cell: keep one, with the larger years/expiry
                if extra:
                    i = codes.index(code)
                    extra[i] = max(extra[i], extra.pop())
                continue
            codes.append(code)
        if memo and isinstance(value, str):
            seen[value] = (list(codes), list(extra))
        codes_out.append(codes)
        extra_out.append(extra)
    return codes_out, (extra_out if col.kind in ("skills", "certs", "related") else None)


# ---------------------------------------------------------------------------------------------------


def validate_table(
    raw: pd.DataFrame,
    table: str,
    source: str | None = None,
    taxonomy: Taxonomy | None = None,
    *,
    readings: Readings | None = None,
) -> pd.DataFrame:
    """Validate a raw table and return it normalised.

    Parameters
    ----------
    raw : DataFrame
        The table as read; cells may be strings (CSV) or typed values (Parquet).
    table : {"workers", "jobs", "employers", "events", "trades", "certificates"}
    source : str, optional
        Name used in error messages (the file name). Defaults to ``"<table>"``.
    taxonomy : Taxonomy, optional
        The vocabulary that trade and certificate codes are normalised through; default built-in.
    readings : Readings, optional
        Collects how every trade and certificate text was read (for the vocabulary report).

    Returns
    -------
    DataFrame with every schema column present, typed and defaulted. List columns hold Python lists;
    ``skills`` adds ``skill_years`` (years per skill), ``certificates`` adds ``certificate_expiry``
    (expiry as days since 1970-01-01, ``inf`` when none) and ``related`` adds ``related_credit``.

    Raises
    ------
    ContractError
        On the first problem found, naming the file, row and column.
    """
    if table not in SCHEMAS:
        raise ContractError(f"unknown table {table!r}; expected one of {', '.join(SCHEMAS)}")
    source = source or table
    tax = taxonomy or default_taxonomy()
    raw = raw.reset_index(drop=True)
    missing_cols = [c.name for c in SCHEMAS[table] if c.required and c.name not in raw.columns]
    if missing_cols:
        raise ContractError(f"{source}: missing required column '{missing_cols[0]}'")
    out = pd.DataFrame(index=raw.index)
    n = len(raw)
    for col in SCHEMAS[table]:
        series = raw[col.name] if col.name in raw.columns else pd.Series([None] * n, dtype=object)
        normalise = _normaliser(col, tax, readings, table)
        out[col.name] = _parse_column(series, col, source, normalise, out, memo=readings is None)
    for rule in TABLE_RULES.get(table, ()):
        bad = rule.violations(out)
        if bad.any():
            raise _fail(source, int(np.flatnonzero(bad)[0]), rule.column, rule.message)
    if table == "events":
        out = _finish_events(out)
    return out


def _finish_events(out: pd.DataFrame) -> pd.DataFrame:
    """Default event ids (``job|worker|event|ts``) and idempotency: a repeated id keeps the first."""
    ids = out["event_id"].to_numpy(dtype=object) if (out["event_id"] == "").any() else None
    if ids is not None:
        stamps = out["ts"].dt.strftime(EVENT_ID_TIME_FORMAT).to_numpy(dtype=object)
        key = [
            f"{j}|{w}|{e}|{t}"
            for j, w, e, t in zip(out["job_id"], out["worker_id"], out["event"], stamps, strict=True)
        ]
        out["event_id"] = np.where(ids == "", np.array(key, dtype=object), ids)
    first = ~out["event_id"].duplicated(keep="first").to_numpy()
    return out if first.all() else out[first].reset_index(drop=True)


def events_from_records(records: list[dict]) -> pd.DataFrame:
    """The normalised ``events`` table from records a typed layer has already validated.

    The API's request model :class:`service.schemas.EventIn` is generated from :data:`SCHEMAS` and
    :data:`TABLE_RULES` and validates every field (ids, event names, ratings, the time rule); this
    only assembles its records into the frame :func:`validate_table` would return for the same rows
    (default ids, idempotency), without pandas string parsing: a few hundred microseconds for a small
    batch, where string validation costs about 10 ms. ``tests/test_contract.py`` proves the frames
    equal.

    Parameters
    ----------
    records : list of dict
        ``ts`` (naive market-time datetime), ``job_id``, ``worker_id``, ``event``, optional
        ``rating`` (float) and ``event_id`` (str).
    """
    frame = pd.DataFrame(
        {
            "ts": np.array([r["ts"] for r in records], dtype="datetime64[ns]"),
            "job_id": np.array([r["job_id"] for r in records], dtype=object),
            "worker_id": np.array([r["worker_id"] for r in records], dtype=object),
            "event": np.array([r["event"] for r in records], dtype=object),
            "rating": np.array([np.nan if r.get("rating") is None else r["rating"] for r in records], float),
            "event_id": np.array([r.get("event_id") or "" for r in records], dtype=object),
            "position": np.array(
                [np.nan if r.get("position") is None else r["position"] for r in records], float
            ),
            "policy": np.array([r.get("policy") or "" for r in records], dtype=object),
            "propensity": np.array(
                [np.nan if r.get("propensity") is None else r["propensity"] for r in records], float
            ),
        }
    )
    return _finish_events(frame)


def validate_cell(table: str, column: str, value: Any) -> Any:
    """One value of one column, validated and normalised as :func:`validate_table` would (built-in
    vocabulary, no cross-column rules): what the API's request models use for list cells, so that
    their token grammar (``code:years``, ``code@YYYY-MM-DD``) has one implementation.

    Raises
    ------
    ContractError
        ``column: message`` for a bad value.
    """
    col = _COLUMNS[table][column]
    out = pd.DataFrame(index=pd.RangeIndex(1))
    try:
        return _parse_column(
            pd.Series([value], dtype=object), col, "value", _normaliser(col, _NO_VOCABULARY, None, table), out
        )[0]
    except ContractError as exc:
        raise ContractError(str(exc).removeprefix("value: row 1, ")) from None


def _parse_column(
    series: pd.Series, col: Column, source: str, normalise, out: pd.DataFrame, *, memo: bool = False
) -> Any:
    """One column parsed and normalised; ``memo``: list cells with equal text are parsed once (only
    when nothing counts how each text was read)."""
    if col.kind in ("id", "str"):
        values = _parse_ids(series, col, source)
        if col.vocab is not None:
            values = np.array([normalise(v) for v in values], dtype=object)
        return values
    if col.kind == "hours":
        return _parse_hours(series, col, source)
    if col.kind == "float":
        return _parse_numbers(series, col, source, integer=False)
    if col.kind == "int":
        return _parse_numbers(series, col, source, integer=True)
    if col.kind == "bool":
        return _parse_bool(series, col, source)
    if col.kind == "datetime":
        return _parse_datetime(series, col, source)
    if col.kind == "event":
        values = series.astype(str).str.strip()
        bad = ~values.isin(EVENT_TYPES).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise _fail(source, pos, col.name, f"{series.iloc[pos]!r} is not one of {', '.join(EVENT_TYPES)}")
        return values.array
    if col.kind in ("list", "skills", "certs", "related"):
        if col.required and series.isna().any():
            raise _fail(source, int(np.flatnonzero(series.isna().to_numpy())[0]), col.name, "is required")
        codes, extra = _parse_token_lists(series, col, source, normalise, memo=memo)
        if col.kind in _EXTRA_COLUMN:
            out[_EXTRA_COLUMN[col.kind]] = pd.Series(extra, index=out.index, dtype=object)
        return pd.Series(codes, index=out.index, dtype=object)
    raise AssertionError(col.kind)


# ---------------------------------------------------------------------------------------------------
# files


def find_table(folder: Path, table: str) -> Path | None:
    """The file holding ``table`` in ``folder`` (``.csv`` or ``.parquet``), or None."""
    found = [p for p in (folder / f"{table}.csv", folder / f"{table}.parquet") if p.exists()]
    if len(found) > 1:
        raise ContractError(f"{folder}: both {table}.csv and {table}.parquet exist; keep one")
    return found[0] if found else None


def read_table(
    path: str | Path, table: str, taxonomy: Taxonomy | None = None, *, readings: Readings | None = None
) -> pd.DataFrame:
    """Read one table file (format by extension) and validate it.

    CSV files may be UTF-8 (with or without a byte-order mark) or GB18030 (GBK), as Chinese Excel
    saves them; anything else is refused with one line naming the encodings tried.
    """
    path = Path(path)
    try:
        if path.suffix == ".csv":
            raw = _read_csv(path)
        elif path.suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            raise ContractError(f"{path.name}: unsupported extension {path.suffix!r}; use .csv or .parquet")
    except ContractError:
        raise
    except pd.errors.EmptyDataError:  # a 0-byte (or blank) file: no header row at all
        raise ContractError(f"{path.name}: is empty (not even a header row)") from None
    except Exception as exc:  # broken Parquet footer, ragged CSV rows, ...
        # the library's own words say what is wrong; its exception class name would only confuse
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise ContractError(f"{path.name}: cannot be read ({reason})") from None
    return validate_table(raw, table, source=path.name, taxonomy=taxonomy, readings=readings)


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV file's cells as text, read in the first of :data:`ENCODINGS` that decodes every byte.

    Read straight from the file (the parser decodes as it goes): decoding the whole file into one
    string first held the text three times over (bytes, string, parser buffer), measured at about
    4 GB for a 1,000,000-worker market's events.
    """
    for encoding in ENCODINGS:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
    tried = "UTF-8 (with or without BOM), GB18030/GBK"
    raise ContractError(f"{path.name}: cannot be decoded; tried {tried}; save it as UTF-8")


def load_vocabulary(folder: str | Path) -> Taxonomy:
    """The market's own vocabulary from its ``trades`` and ``certificates`` tables, else the built-in one.

    When either table is present the market's vocabulary is exactly what its tables declare (a
    missing one of the two is an empty list of that kind). Certificate codes in ``trades`` are read
    through the certificates table; related-trade codes through the trades table itself.
    """
    folder = Path(folder)
    paths = {t: find_table(folder, t) for t in VOCABULARY_TABLES}
    if not any(paths.values()):
        return default_taxonomy()
    empty = Taxonomy([], [], source="empty")
    certs = read_table(paths["certificates"], "certificates", empty) if paths["certificates"] else None
    try:
        cert_vocab = Taxonomy.from_frames(None, certs, source="certificates")
        trades = read_table(paths["trades"], "trades", cert_vocab) if paths["trades"] else None
        first = Taxonomy.from_frames(trades, certs, source=str(folder))
        if trades is not None:  # related-trade codes may use the trades' own names and synonyms
            trades = trades.assign(related=[[first.trade_code(c) for c in r] for r in trades["related"]])
        return Taxonomy.from_frames(trades, certs, source=str(folder))
    except VocabularyError as exc:
        name = (paths["trades"] or paths["certificates"]).name
        raise ContractError(f"{name}: {exc}") from None


def load_market(
    folder: str | Path, taxonomy: Taxonomy | None = None, *, readings: Readings | None = None
) -> Market:
    """Read and validate every table of a market folder, including references between tables.

    The market's own vocabulary (``trades``/``certificates`` tables) is used when it has one, else
    ``taxonomy`` (default: the built-in one). ``readings`` collects how trade and certificate texts
    were read, for the vocabulary report.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ContractError(f"{folder}: does not exist")
    if not folder.is_dir():
        raise ContractError(f"{folder}: not a market folder (a file, not a folder)")
    own = load_vocabulary(folder)
    tax = own if not own.is_built_in else (taxonomy or own)
    tables: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        path = find_table(folder, table)
        if path is None:
            if table in REQUIRED_TABLES:
                raise ContractError(f"{folder}: missing table {table}.csv or {table}.parquet")
            tables[table] = empty_table(table)
        else:
            tables[table] = read_table(path, table, tax, readings=readings)
            if table in REQUIRED_TABLES and tables[table].empty:
                # a header-only workers or jobs table is almost always a failed export; refused here, before
                # the events' references to it would be blamed instead (README, Decisions)
                raise ContractError(
                    f"{path.name}: has a header but no rows; a market needs at least one {table[:-1]}"
                )
    events = tables["events"]
    for key, table in (("job_id", "jobs"), ("worker_id", "workers")):
        known = pd.Index(tables[table][key])
        unknown = known.get_indexer(events[key]) < 0
        if unknown.any():
            pos = int(np.flatnonzero(unknown)[0])
            name = find_table(folder, "events").name
            raise ContractError(
                f"{name}: row {pos + 1}, column '{key}': unknown {table[:-1]} {events[key].iloc[pos]!r}"
            )
    return Market(
        tables["workers"], tables["jobs"], tables["employers"], events, source=str(folder), taxonomy=tax
    )


def serialise_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """A normalised table back in contract string form (lists joined with ';', ISO times)."""
    out = pd.DataFrame(index=df.index)
    for col in SCHEMAS[table]:
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.kind == "skills":
            years = df["skill_years"] if "skill_years" in df else None
            out[col.name] = [
                ";".join(f"{c}:{_number_text(y)}" if y else c for c, y in zip(codes, ys, strict=True))
                if years is not None
                else ";".join(codes)
                for codes, ys in zip(s, years if years is not None else s, strict=True)
            ]
        elif col.kind == "certs":
            exp = df["certificate_expiry"] if "certificate_expiry" in df else [[np.inf] * len(c) for c in s]
            out[col.name] = [
                ";".join(
                    c if not np.isfinite(e) else f"{c}@{_day_to_date(e)}"
                    for c, e in zip(codes, es, strict=True)
                )
                for codes, es in zip(s, exp, strict=True)
            ]
        elif col.kind == "related":
            out[col.name] = [
                ";".join(f"{c}:{_number_text(x)}" for c, x in zip(codes, xs, strict=True))
                for codes, xs in zip(s, df["related_credit"], strict=True)
            ]
        elif col.kind == "list":
            out[col.name] = [";".join(v) for v in s]
        elif col.kind == "datetime":
            out[col.name] = format_market_times(s)
        elif col.kind == "int" and _may_be_missing(col):
            out[col.name] = pd.array(s.to_numpy(dtype=float), dtype="Int64")  # 3, not 3.0; empty when missing
        else:
            out[col.name] = s
    return out


def _number_text(x: float) -> str:
    """The shortest text that reads back as exactly ``x`` (``5`` for 5.0)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _day_to_date(day: float) -> str:
    return (pd.Timestamp(0) + pd.Timedelta(days=int(day))).strftime("%Y-%m-%d")


def write_table(df: pd.DataFrame, path: str | Path, table: str) -> Path:
    """Write a normalised table in contract form (CSV or Parquet by extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = serialise_table(df, table)
    if path.suffix == ".parquet":
        out.to_parquet(path, index=False)
    else:
        out.to_csv(path, index=False)
    return path


def write_market(market: Market, folder: str | Path, fmt: str = "csv") -> Path:
    """Write every table of ``market`` in contract form; its vocabulary too when it is the market's own."""
    folder = Path(folder)
    for table in TABLES:
        write_table(getattr(market, table), folder / f"{table}.{fmt}", table)
    if not market.taxonomy.is_built_in:
        write_vocabulary(market.taxonomy, folder, fmt)
    return folder


def write_vocabulary(taxonomy: Taxonomy, folder: str | Path, fmt: str = "csv") -> Path:
    """Write a vocabulary as the ``trades`` and ``certificates`` tables of a market folder."""
    folder = Path(folder)
    trades, certs = taxonomy.to_frames()
    write_table(trades, folder / f"trades.{fmt}", "trades")
    write_table(certs, folder / f"certificates.{fmt}", "certificates")
    return folder
