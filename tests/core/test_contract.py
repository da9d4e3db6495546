import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import (
    ContractError,
    events_from_records,
    load_market,
    read_table,
    validate_table,
    write_table,
)

GOOD_WORKERS = "worker_id,lat,lon,skills,certificates\nw1,26.7,117.4,电焊工:5;moving,电焊证@2027-01-31\nw2,26.8,117.5,,\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_workers_are_normalised(tmp_path):
    df = read_table(write(tmp_path, "workers.csv", GOOD_WORKERS), "workers")
    assert df.loc[0, "skills"] == ["welding", "moving"]  # synonym 电焊工 normalised to the code
    assert df.loc[0, "skill_years"] == [5.0, 0.0]
    assert df.loc[0, "certificates"] == ["welding_cert"]
    assert df.loc[0, "certificate_expiry"] == [float((pd.Timestamp("2027-01-31") - pd.Timestamp(0)).days)]
    assert df.loc[1, "skills"] == []  # an empty skill list is allowed
    assert df.loc[1, "max_travel_km"] == 15.0  # documented default
    assert np.isnan(df.loc[1, "rating_avg"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("worker_id,lat,skills\nw1,26.7,x\n", "workers.csv: missing required column 'lon'"),
        (
            "worker_id,lat,lon,skills\nw1,26.7,117,x\nw2,91,117,x\n",
            "workers.csv: row 2, column 'lat': 91 is outside [-90, 90]",
        ),
        (
            "worker_id,lat,lon,skills\nw1,abc,117,x\n",
            "workers.csv: row 1, column 'lat': 'abc' is not a finite number",
        ),
        (
            "worker_id,lat,lon,skills\nw1,inf,117,x\n",
            "workers.csv: row 1, column 'lat': 'inf' is not a finite number",
        ),
        (
            "worker_id,lat,lon,skills\nw1,26,117,x\nw1,26,117,y\n",
            "workers.csv: row 2, column 'worker_id': duplicate id 'w1' (first at row 1)",
        ),
        (
            "worker_id,lat,lon,skills,registered_at\nw1,26,117,x,2026-13-45\n",
            "workers.csv: row 1, column 'registered_at': '2026-13-45' is not an ISO 8601 date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM])",
        ),
        (
            "worker_id,lat,lon,skills,certificates\nw1,26,117,x,welding_cert@31/01/2027\n",
            "workers.csv: row 1, column 'certificates': 'welding_cert@31/01/2027': expiry must be YYYY-MM-DD after '@'",
        ),
        (
            "worker_id,lat,lon,skills\nw1,26,117,welding:many\n",
            "workers.csv: row 1, column 'skills': 'welding:many': years must be a number 0-80 after ':'",
        ),
        (
            "worker_id,lat,lon,skills,rating_count\nw1,26,117,x,-3\n",
            "workers.csv: row 1, column 'rating_count': -3 is outside [0, 10000000]",
        ),
        ("worker_id,lat,lon,skills\n,26,117,x\n", "workers.csv: row 1, column 'worker_id': is required"),
    ],
)
def test_bad_workers_file_is_refused_with_file_row_and_column(tmp_path, text, expected):
    with pytest.raises(ContractError) as err:
        read_table(write(tmp_path, "workers.csv", text), "workers")
    assert str(err.value) == expected


def test_bad_jobs_and_events(tmp_path):
    with pytest.raises(
        ContractError, match=r"jobs.csv: row 1, column 'headcount': -2 is outside \[1, 10000\]"
    ):
        read_table(
            write(tmp_path, "jobs.csv", "job_id,trade,lat,lon,headcount\nj1,welding,26,117,-2\n"), "jobs"
        )
    with pytest.raises(ContractError, match=r"jobs.csv: row 1, column 'end_time': is before start_time"):
        read_table(
            write(
                tmp_path,
                "jobs.csv",
                "job_id,trade,lat,lon,start_time,end_time\nj1,x,26,117,2026-01-02,2026-01-01\n",
            ),
            "jobs",
        )
    with pytest.raises(ContractError, match=r"events.csv: row 1, column 'event': 'clicked' is not one of"):
        read_table(
            write(tmp_path, "events.csv", "ts,job_id,worker_id,event\n2026-01-01,j1,w1,clicked\n"), "events"
        )
    with pytest.raises(
        ContractError, match=r"events.csv: row 1, column 'rating': is required for a 'rated' event"
    ):
        read_table(
            write(tmp_path, "events.csv", "ts,job_id,worker_id,event\n2026-01-01,j1,w1,rated\n"), "events"
        )


def test_duplicate_event_ids_are_idempotent(tmp_path):
    text = "ts,job_id,worker_id,event,event_id\n2026-01-01,j1,w1,shown,e1\n2026-01-01,j1,w1,shown,e1\n2026-01-02,j1,w1,applied,\n"
    df = read_table(write(tmp_path, "events.csv", text), "events")
    assert len(df) == 2
    assert df.loc[1, "event_id"] == "j1|w1|applied|2026-01-02T00:00:00"  # natural key when no id


def test_market_refuses_unknown_references(tmp_path):
    write(tmp_path, "workers.csv", GOOD_WORKERS)
    write(tmp_path, "jobs.csv", "job_id,trade,lat,lon\nj1,welding,26.7,117.4\n")
    write(
        tmp_path, "events.csv", "ts,job_id,worker_id,event\n2026-01-01,j1,w1,shown\n2026-01-01,j9,w1,shown\n"
    )
    with pytest.raises(ContractError, match=r"events.csv: row 2, column 'job_id': unknown job 'j9'"):
        load_market(tmp_path)


def test_missing_table_and_unreadable_parquet(tmp_path):
    write(tmp_path, "workers.csv", GOOD_WORKERS)
    with pytest.raises(ContractError, match="missing table jobs.csv or jobs.parquet"):
        load_market(tmp_path)
    (tmp_path / "jobs.parquet").write_bytes(b"not parquet")
    with pytest.raises(ContractError, match=r"jobs.parquet: cannot be read"):
        load_market(tmp_path)


def test_parquet_with_list_columns_round_trips(tmp_path):
    raw = pd.DataFrame(
        {
            "worker_id": ["w1"],
            "lat": [26.7],
            "lon": [117.4],
            "skills": [["welding:3", "焊工"]],
            "certificates": [["welding_cert@2030-01-01"]],
        }
    )
    raw.to_parquet(tmp_path / "w.parquet")
    df = read_table(tmp_path / "w.parquet", "workers")
    assert df.loc[0, "skills"] == ["welding"]  # duplicate after normalisation keeps the first
    # writing and reading back is lossless in contract form
    write_table(df, tmp_path / "workers.csv", "workers")
    again = read_table(tmp_path / "workers.csv", "workers")
    assert again.loc[0, "certificates"] == ["welding_cert"]
    assert again.loc[0, "certificate_expiry"] == df.loc[0, "certificate_expiry"]


def test_timezone_offsets_become_china_local_time():
    df = validate_table(
        pd.DataFrame(
            {"ts": ["2026-01-01T00:00:00Z"], "job_id": ["j"], "worker_id": ["w"], "event": ["shown"]}
        ),
        "events",
    )
    assert df.loc[0, "ts"] == pd.Timestamp("2026-01-01T08:00:00")


def test_the_api_events_path_agrees_with_validate_table():
    """The API's typed path (generated EventIn, then events_from_records) and the file validator
    return the same frame, and refuse the same rows naming the same column."""
    from pydantic import ValidationError

    from service.schemas import EventsRequest

    rows = [
        {
            "ts": "2026-11-20T09:00:00",
            "job_id": "j1",
            "worker_id": "w1",
            "event": "shown",
            "event_id": "e1",
            "position": 3,
            "policy": "20261123T021539-163729-s1",
            "propensity": 0.25,
        },
        {"ts": "2026-11-20T01:00:00Z", "job_id": " j1 ", "worker_id": "w2", "event": "rated", "rating": 4.5},
        {
            "ts": "2026-11-20T09:30:15.25",
            "job_id": "j2",
            "worker_id": "w1",
            "event": "applied",
            "event_id": "",
        },
        {
            "ts": "2026-11-21T08:00:00-05:00",
            "job_id": "j2",
            "worker_id": "w3",
            "event": "hired",
            "event_id": "e1",
        },
        {
            "ts": "2026-11-22T08:00:00",
            "job_id": "j3",
            "worker_id": "w3",
            "event": "rated",
            "rating": 1.0,
            "event_id": "  e9 ",
        },
    ]
    body = EventsRequest.model_validate({"events": rows})
    fast = events_from_records([e.__dict__ for e in body.events])
    slow = validate_table(pd.DataFrame(rows).astype(object).fillna(""), "events")
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == 4  # the second "e1" is a re-send
    assert fast["ts"][1] == pd.Timestamp("2026-11-20 09:00:00")  # 01:00 UTC is 09:00 market time

    bad = [
        ({"ts": "1969-12-31", "job_id": "j", "worker_id": "w", "event": "shown"}, "ts"),
        ({"ts": "2026-01-01", "job_id": "  ", "worker_id": "w", "event": "shown"}, "job_id"),
        ({"ts": "2026-01-01", "job_id": "j", "worker_id": "w" * 201, "event": "shown"}, "worker_id"),
        ({"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "rated"}, "rating"),
        ({"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "rated", "rating": 6.0}, "rating"),
        ({"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "clicked"}, "event"),
        ({"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "shown", "position": 0}, "position"),
        (
            {"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "shown", "position": 2.5},
            "position",
        ),
        (
            {"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "shown", "propensity": 1.5},
            "propensity",
        ),
        (
            {"ts": "2026-01-01", "job_id": "j", "worker_id": "w", "event": "shown", "propensity": -0.1},
            "propensity",
        ),
    ]
    for row, column in bad:
        with pytest.raises(ValidationError, match=column):
            EventsRequest.model_validate({"events": [row]})
        with pytest.raises(ContractError, match=f"column '{column}'"):
            validate_table(pd.DataFrame([row]), "events")


def test_logged_feedback_columns_round_trip_through_a_file(tmp_path):
    """position, policy and propensity are optional; written and read back they stay what they were
    (a position is written as a whole number, missing ones as empty cells)."""
    from gigmatch.core.contract import write_table

    events = validate_table(
        pd.DataFrame(
            {
                "ts": ["2026-01-01T08:00", "2026-01-01T09:00"],
                "job_id": ["j", "j"],
                "worker_id": ["w1", "w2"],
                "event": ["shown", "applied"],
                "position": ["4", ""],
                "policy": ["v1", ""],
                "propensity": ["0.125", ""],
            }
        ),
        "events",
    )
    assert events["position"].tolist()[0] == 4 and np.isnan(events["position"][1])
    path = write_table(events, tmp_path / "events.csv", "events")
    text = path.read_text()
    assert ",4,v1,0.125" in text and "4.0" not in text
    back = validate_table(pd.read_csv(path, dtype=str, keep_default_na=False), "events")
    pd.testing.assert_frame_equal(back, events)


@pytest.mark.parametrize("table", ["workers", "jobs"])
def test_a_header_only_required_table_is_refused_naming_it(tmp_path, table):
    # issue #20: a header-only workers table passed validate and assign "filled 0/604 slots"; with events
    # present the error blamed events.csv
    write(tmp_path, "workers.csv", GOOD_WORKERS)
    write(tmp_path, "jobs.csv", "job_id,trade,lat,lon\nj1,moving,26.7,117.4\n")
    write(tmp_path, "events.csv", "ts,job_id,worker_id,event\n2026-09-01T08:00,j1,w1,shown\n")
    header = {"workers": "worker_id,lat,lon,skills\n", "jobs": "job_id,trade,lat,lon\n"}[table]
    write(tmp_path, f"{table}.csv", header)
    with pytest.raises(ContractError) as exc:
        load_market(tmp_path)
    singular = table[:-1]
    assert str(exc.value) == f"{table}.csv: has a header but no rows; a market needs at least one {singular}"


def test_an_empty_file_is_named_without_library_exception_names(tmp_path):
    write(tmp_path, "workers.csv", "")
    with pytest.raises(ContractError) as exc:
        read_table(tmp_path / "workers.csv", "workers")
    assert str(exc.value) == "workers.csv: is empty (not even a header row)"
    (tmp_path / "jobs.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ContractError) as exc:
        read_table(tmp_path / "jobs.parquet", "jobs")
    assert str(exc.value).startswith("jobs.parquet: cannot be read (") and "Error" not in str(exc.value)


def test_a_market_folder_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(ContractError, match=r"missing: does not exist$"):
        load_market(tmp_path / "missing")
    write(tmp_path, "f.csv", "x")
    with pytest.raises(ContractError, match=r"not a market folder"):
        load_market(tmp_path / "f.csv")


@pytest.mark.parametrize(
    "worker_id, problem",
    [
        ("w\x01", "contains a control character"),
        ("w\x7f", "contains a control character"),
        ("张\x9f三", "contains a control character"),
        ("w" * 201, "is longer than 200 characters"),
        ("工" * 201, "is longer than 200 characters"),
        ("工" * 200, None),  # 200 characters (600 bytes of UTF-8) is the limit, not bytes
        ("w\xa0x", None),  # U+00A0 is printable: outside the control class
    ],
)
def test_id_checks_count_characters_and_find_every_control_character(worker_id, problem):
    # the checks run in Arrow's kernels: their answers equal the Python rules on the same cells
    raw = pd.DataFrame(
        {"worker_id": ["ok", worker_id], "lat": ["1", "1"], "lon": ["1", "1"], "skills": ["", ""]}
    )
    if problem is None:
        assert validate_table(raw, "workers")["worker_id"].tolist() == ["ok", worker_id.strip()]
    else:
        with pytest.raises(ContractError, match=rf"^workers: row 2, column 'worker_id': .*{problem}"):
            validate_table(raw, "workers")


def test_a_repeated_event_id_keeps_its_first_row_wherever_the_repeat_is(tmp_path):
    rows = ["e1", "e2", "e1", "e3", "e2", "e2"]
    text = "ts,job_id,worker_id,event,event_id\n" + "".join(
        f"2026-01-0{k + 1},j1,w1,shown,{e}\n" for k, e in enumerate(rows)
    )
    df = read_table(write(tmp_path, "events.csv", text), "events")
    assert df["event_id"].tolist() == ["e1", "e2", "e3"]
    assert df["ts"].dt.day.tolist() == [1, 2, 4]


def test_equal_list_cells_are_read_alike_and_the_first_bad_one_is_named():
    cells = ["电焊工:5;moving", "", "电焊工:5;moving", "moving", ""]
    raw = pd.DataFrame({"worker_id": [f"w{k}" for k in range(5)], "lat": "1", "lon": "1", "skills": cells})
    df = validate_table(raw, "workers")
    assert df["skills"].tolist() == [["welding", "moving"], [], ["welding", "moving"], ["moving"], []]
    assert df["skill_years"].tolist() == [[5.0, 0.0], [], [5.0, 0.0], [0.0], []]
    df.loc[0, "skills"].append("x")  # rows never share one list
    assert df.loc[2, "skills"] == ["welding", "moving"]
    bad = pd.DataFrame(
        {"worker_id": ["a", "b", "c"], "lat": "1", "lon": "1", "skills": ["moving", "x:99", "x:99"]}
    )
    with pytest.raises(ContractError, match=r"^workers: row 2, column 'skills': 'x:99': years"):
        validate_table(bad, "workers")
