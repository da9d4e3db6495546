"""Property-based tests of the whole data contract and of the API's request models (issue #19).

For every table and every column kind: any input either validates or raises the contract's own
``ContractError`` (never another exception), and what validates round-trips through
serialise -> write -> read -> validate unchanged, as CSV and as Parquet. The API's request models
either accept a body or raise pydantic's ``ValidationError`` (a 422), and whatever they accept the
contract accepts too (no 500 further down).

``GIGMATCH_PROPERTY_EXAMPLES`` sets the number of examples per property (default 150; the nightly run
in ``benchmarks/fuzz_nightly.sh`` uses 5,000) and ``GIGMATCH_FUZZ_SEED`` the generator's seed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gigmatch.core.contract import SCHEMAS, ContractError, read_table, validate_table, write_table

EXAMPLES = int(os.environ.get("GIGMATCH_PROPERTY_EXAMPLES", "150"))
SEED = int(os.environ.get("GIGMATCH_FUZZ_SEED", "20261123"))  # fixed in `make test`, fresh in nightly runs
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


def PROPERTY(test):  # noqa: N802  (used as a decorator, like hypothesis' own)
    return seed(SEED)(_SETTINGS(test))


# ---- values: junk of every type, and near-valid text of every column kind ----------------------------

junk = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.sampled_from(["", " ", "nan", "None", "NaT", "<NA>", "inf", "-inf", "1e400", "0x10", "١٢", "５"]),
)
offsets = st.sampled_from(["", "Z", "+08:00", "+05:30", "-05:00", "+0000", "-11", "+23:59", "+24:00"])
iso_times = st.builds(
    lambda d, t, frac, off, sep: f"{d.isoformat()}{sep}{t.strftime('%H:%M:%S')}{frac}{off}",
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.times(),
    st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567891"]),
    offsets,
    st.sampled_from(["T", " "]),
) | st.dates(min_value=dt.date(1960, 1, 1), max_value=dt.date(2210, 1, 1)).map(dt.date.isoformat)
codes = st.sampled_from(
    ["welding", "电焊工", "moving", "cook", "nanny", "保洁", "x y", "a:b", "", " ", "焊工证"]
)
skill_cells = st.lists(
    st.builds(
        lambda c, y: c + y, codes, st.sampled_from(["", ":0", ":5", ":2.5", ":80", ":81", ":-1", ":x"])
    ),
    max_size=4,
).map(";".join)
cert_cells = st.lists(
    st.builds(
        lambda c, d: c + d,
        codes,
        st.sampled_from(["", "@2027-01-31", "@2026-02-30", "@tomorrow", "@1999-01-01"]),
    ),
    max_size=3,
).map(";".join)
list_cells = st.lists(codes, max_size=4).map(";".join)


def numbers(col) -> st.SearchStrategy:
    lo = -1e7 if col.lo is None else col.lo
    hi = 1e7 if col.hi is None else col.hi
    inside = st.floats(min_value=lo, max_value=hi, allow_nan=False)
    if col.kind == "int":
        inside = st.integers(min_value=int(math.ceil(lo)), max_value=int(min(hi, 10**12)))
    edges = st.sampled_from([lo, hi, lo - 1, hi + 1, 2**63, -(2**63) - 1, 1.5, 1e308])
    return st.one_of(inside, inside.map(str), edges, edges.map(str))


def column_values(col) -> st.SearchStrategy:
    """Near-valid text of the column's kind, or junk of any type."""
    kind = col.kind
    if kind in ("float", "int"):
        near = numbers(col)
    elif kind == "datetime":
        near = iso_times
    elif kind == "skills":
        near = skill_cells
    elif kind == "certs":
        near = cert_cells
    elif kind == "list":
        near = list_cells
    elif kind == "bool":
        near = st.sampled_from(["true", "false", "1", "0", "yes", "no", "maybe", True, False])
    elif kind == "event":
        near = st.sampled_from(["shown", "applied", "hired", "rated", "completed", "clicked", " shown "])
    elif kind == "hours":
        near = st.sampled_from(
            ["mon-fry 09:00-15:00", "mon 9-15", "mon 10:00-10:00", "sun 23:00-01:00", "周一 08:00-12:00"]
        )
    else:  # id, str
        near = st.one_of(st.text(min_size=1, max_size=20), st.text(min_size=199, max_size=202))
    return st.one_of(near, junk)


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=";:@"), min_size=1, max_size=20
).filter(lambda t: t.strip() not in ("", "nan", "NaN", "None", "NaT", "<NA>"))
valid_codes = st.one_of(
    st.sampled_from(["welding", "电焊工", "moving", "cook", "保洁", "焊工证", "x y"]), safe_text
)


def valid_values(col, allow_missing: bool = True) -> st.SearchStrategy:
    """Values the column accepts (missing ones too for optional columns, unless ``allow_missing`` is off)."""
    kind = col.kind
    missing = st.just("") if allow_missing and not col.required else st.nothing()
    if kind in ("float", "int"):
        lo = -1e6 if col.lo is None else col.lo
        hi = 1e6 if col.hi is None else col.hi
        if kind == "int":
            value = st.integers(min_value=int(lo), max_value=int(hi))
        else:
            value = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
        return st.one_of(value, value.map(repr), missing)
    if kind == "datetime":
        good = st.builds(
            lambda d, t, frac, off: f"{d.isoformat()}T{t.strftime('%H:%M:%S')}{frac}{off}",
            st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2199, 12, 31)),
            st.times(),
            st.sampled_from(["", ".5", ".123456789"]),
            st.sampled_from(["", "Z", "+08:00", "-05:30"]),
        )
        return st.one_of(good, missing)
    if kind == "skills":
        token = st.builds(lambda c, y: c + y, valid_codes, st.sampled_from(["", ":0", ":3.25", ":80"]))
        return st.lists(token, max_size=3, min_size=0 if allow_missing else 1).map(";".join)
    if kind == "certs":
        token = st.builds(
            lambda c, y: c + y, valid_codes, st.sampled_from(["", "@2027-01-31", "@1999-12-31"])
        )
        return st.lists(token, max_size=3, min_size=0 if allow_missing else 1).map(";".join)
    if kind == "list":
        return st.lists(valid_codes, max_size=3, min_size=0 if allow_missing else 1).map(";".join)
    if kind == "bool":
        return st.sampled_from(["true", "false", "1", "0", ""] if allow_missing else ["true", "false"])
    if kind == "event":
        return st.sampled_from(["shown", "declined", "applied", "hired", "completed", "no_show", "rated"])
    if kind == "hours":
        windows = [
            "mon-fri 09:00-15:00",
            "daily 06:00-09:00,17:00-21:00;Sat 08:00-12:00",
            "fri-mon 22:00-06:00",
        ]
        return st.one_of(st.sampled_from(windows), missing)
    return st.one_of(safe_text, missing)


@st.composite
def raw_tables(draw, table: str):
    """Valid rows, and in about half of the tables one cell replaced by near-valid text or junk."""
    n = draw(st.integers(min_value=1, max_value=4))
    data = {}
    for col in SCHEMAS[table]:
        if not col.required and draw(st.booleans()):
            continue  # optional columns are sometimes absent
        values = [draw(valid_values(col)) for _ in range(n)]
        if col.kind == "id":
            values = [f"{v}-{i}" for i, v in enumerate(values)]  # unique, as ids must be
        data[col.name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    if draw(st.booleans()):
        name = draw(st.sampled_from(list(frame.columns)))
        col = next(c for c in SCHEMAS[table] if c.name == name)
        frame.loc[draw(st.integers(0, n - 1)), name] = draw(column_values(col))
    return frame


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for name in a.columns:
        left, right = a[name].tolist(), b[name].tolist()
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
                continue
            if x is pd.NaT and y is pd.NaT:
                continue
            assert x == y or (pd.isna(x) and pd.isna(y)), (name, x, y)


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_any_table_validates_or_raises_contract_error_and_round_trips(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"prop-{table}")

    @PROPERTY
    @given(raw=raw_tables(table))
    def check(raw):
        try:
            valid = validate_table(raw, table)
        except ContractError as exc:
            assert "\n" not in str(exc)  # one line
            return
        for suffix in (".csv", ".parquet"):
            path = folder / f"{table}{suffix}"
            write_table(valid, path, table)
            again = read_table(path, table)
            assert_same_table(valid, again)

    check()


# ---- the API's request models --------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=15),
        iso_times,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def api_bodies(model) -> st.SearchStrategy:
    """Valid bodies with the model's own field names, in about half of them one field junk."""
    table = {"WorkerIn": "workers", "JobIn": "jobs", "EventIn": "events"}[model.__name__]
    cols = {c.name: c for c in SCHEMAS[table]}

    def valid_json(col):
        values = valid_values(col, allow_missing=False)
        if col.kind in ("skills", "certs", "list"):
            return values.map(lambda cell: cell.split(";") if cell else [])
        if col.kind in ("float", "int"):
            return values.map(lambda v: float(v) if col.kind == "float" else int(float(v)))
        if col.kind == "bool":
            return values.map(lambda v: v in ("true", "1"))
        return values

    @st.composite
    def bodies(draw):
        body = {}
        for name, field in model.model_fields.items():
            col = cols.get(name)
            if col is None or (not field.is_required() and draw(st.booleans())):
                continue
            body[name] = draw(valid_json(col))
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(model.model_fields)))
            col = cols.get(name)
            body[name] = draw(st.one_of(json_values, column_values(col) if col else json_values))
        return body

    return bodies()


def _api_models():
    from service.schemas import EventIn, JobIn, WorkerIn

    return [WorkerIn, JobIn, EventIn]


@pytest.mark.parametrize("model", _api_models(), ids=lambda m: m.__name__)
def test_api_models_accept_only_what_the_contract_accepts(model):
    from service.schemas import contract_row

    table = {"WorkerIn": "workers", "JobIn": "jobs", "EventIn": "events"}[model.__name__]
    key = {"workers": {"worker_id": "w"}, "jobs": {"job_id": "j"}, "events": {}}[table]

    @PROPERTY
    @given(body=api_bodies(model))
    def check(body):
        try:
            parsed = model.model_validate(body)
        except ValidationError:
            return
        validate_table(pd.DataFrame([contract_row(parsed, **key)]), table)  # must not raise at all

    check()


def test_the_issue_request_is_a_validation_error_naming_the_field():
    from service.schemas import EventsRequest

    body = {
        "events": [
            {
                "event": "hired",
                "job_id": "0",
                "ts": "0001-01-01T00:00:00.0+05:00",
                "worker_id": "0",
                "event_id": "0",
                "rating": 1.0,
            }
        ]
    }
    with pytest.raises(ValidationError) as err:
        EventsRequest.model_validate(body)
    assert err.value.errors()[0]["loc"] == ("events", 0, "ts")
