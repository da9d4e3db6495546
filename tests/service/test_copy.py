"""``gigmatch store copy`` and ``store info``: a store copied SQLite -> PostgreSQL -> SQLite is the same
store (entities in order, events with their ids, streams and records), and bad targets get one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from gigmatch.cli import main
from gigmatch.core.contract import load_market
from service.store import Store
from service.store.sqlite import SQLiteRepository


def test_copy_sqlite_to_postgres_and_back_keeps_everything(small_market_dir, postgres, tmp_path, capsys):
    source = tmp_path / "county.db"
    store = Store(SQLiteRepository(source))
    store.seed(load_market(small_market_dir))
    store.upsert_worker({"worker_id": "w-late", "lat": 26.7, "lon": 117.4, "skills": ""})
    store.delete_job(store.market(events=False).jobs["job_id"].iloc[0])
    store.repo.append("answers", [{"n": i, "text": "事事有回音"} for i in range(3)])
    store.repo.put_records("cases", {"w1": {"status": "open"}})
    before = store.snapshot()
    store.close()

    url = postgres.create_database("copy_target")
    assert main(["store", "copy", "--from", str(source), "--to", url]) == 0
    assert "events" in capsys.readouterr().out
    back = tmp_path / "back.db"
    assert main(["store", "copy", "--from", url, "--to", str(back)]) == 0
    capsys.readouterr()
    for copy in (url, str(back)):
        assert main(["store", "info", "--store", copy, "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["streams"] == {"answers": 3} and info["records"] == {"cases": 1}
        again = Store(copy if copy == str(back) else _pg(url))
        snap = again.snapshot()
        assert list(snap.workers.ids) == list(before.workers.ids) and snap.workers.ids[-1] == "w-late"
        assert list(snap.jobs.ids) == list(before.jobs.ids)
        assert np.array_equal(snap.history._cum, before.history._cum)
        assert np.array_equal(snap.job_hired, before.job_hired)
        log = again.market().events
        pd.testing.assert_series_equal(
            log["event_id"], Store(SQLiteRepository(source)).market().events["event_id"]
        )
        assert [r["text"] for _, r in again.repo.read_stream("answers")] == ["事事有回音"] * 3
        again.close()


def _pg(url):
    from service.store.postgres import PostgresRepository

    return PostgresRepository(url)


def test_copy_refuses_a_non_empty_target_and_bad_stores_in_one_line(small_market_dir, tmp_path, capsys):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for path in (a, b):
        store = Store(SQLiteRepository(path))
        store.upsert_worker({"worker_id": "w", "lat": 26.7, "lon": 117.4, "skills": ""})
        store.close()
    cases = [
        (
            ["store", "copy", "--from", str(a), "--to", str(b)],
            "is not empty (1 workers); copy into an empty store",
        ),
        (["store", "copy", "--from", str(a), "--to", str(a)], "the same store"),
        (["store", "info", "--store", str(tmp_path / "missing.db")], "no store at"),
        (["store", "info", "--store", "mysql://h/db"], "mysql://... is not supported"),
        (["store", "info", "--store", "postgresql://nobody@127.0.0.1:1/x"], "cannot connect to"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
