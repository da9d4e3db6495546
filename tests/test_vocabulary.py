"""A market's own vocabulary, the built-in taxonomy, encodings and point-in-time market statistics (#11).

The hand-made county below writes its own codes (``cook``, ``nanny``, ``cert_health``), as county
platforms do. With its ``trades``/``certificates`` tables it gets the answers those tables imply in
every path (validation, features, the batch run, the service); without them the built-in taxonomy
reads ``cook`` as ``chinese_cooking``, which needs ``health_cert``, and every path says so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from features.encode import encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from features.registry import FEATURE_NAMES, column
from gigmatch.core.contract import ContractError, Readings, load_market, read_table, write_market
from gigmatch.core.taxonomy import default_taxonomy, load_taxonomy
from gigmatch.core.vocabulary import vocabulary_report
from gigmatch.sim import SimulationConfig, simulate_market
from matcher.batch import run_batch
from models.heuristic import HeuristicScorer
from service.store import Store

TRADES = """trade,name_zh,name_en,synonyms,required_certificates,skill_required,related,typical_daily_wage
cook,厨师,cook,炒菜师傅;大厨,cert_health,true,kitchen:0.5,220
kitchen,厨房杂工,kitchen hand,洗碗工,cert_health,false,,150
nanny,保姆,nanny,育儿嫂,健康证;cert_nanny,true,,260
cleaner,保洁,cleaner,,,false,,150
"""
CERTS = """certificate,name_zh,name_en,synonyms
cert_health,健康证,health certificate,健康证明
cert_nanny,育婴员证,nanny certificate,育婴师证
"""
WORKERS = """worker_id,lat,lon,skills,certificates,max_travel_km
w1,26.700,117.400,cook:5,cert_health,15
w2,26.701,117.401,cook:8,,15
w3,26.702,117.402,nanny,cert_health;cert_nanny,15
w4,26.703,117.403,cleaner,,15
w5,26.704,117.404,厨师:3,健康证,15
w6,26.705,117.405,kitchen,cert_health,15
"""
JOBS = """job_id,trade,lat,lon,headcount,start_time,posted_at,daily_wage
j1,cook,26.700,117.400,2,2030-01-05T08:00,2029-12-20T08:00,240
j2,nanny,26.701,117.401,1,2030-01-05T08:00,2029-12-20T08:00,280
j3,cleaner,26.702,117.402,1,2030-01-05T08:00,2029-12-20T08:00,150
j4,大厨,26.703,117.403,1,2030-01-05T08:00,2029-12-20T08:00,230
"""


def county(tmp_path, own_vocabulary: bool):
    folder = tmp_path / ("own" if own_vocabulary else "plain")
    folder.mkdir()
    (folder / "workers.csv").write_text(WORKERS, encoding="utf-8")
    (folder / "jobs.csv").write_text(JOBS, encoding="utf-8")
    if own_vocabulary:
        (folder / "trades.csv").write_text(TRADES, encoding="utf-8")
        (folder / "certificates.csv").write_text(CERTS, encoding="utf-8")
    return folder


def eligible_workers(market, job_id: str) -> list[str]:
    W, J = encode_market(market)
    j = int(np.flatnonzero(J.ids == job_id)[0])
    b = build_pairs(J, W, np.full(len(W), j), np.arange(len(W)), asof_s=J.start_s[j] - 86_400)
    return sorted(W.ids[b.eligible].tolist())


class TestOwnVocabulary:
    def test_the_market_codes_are_kept_and_its_rules_apply(self, tmp_path):
        m = load_market(county(tmp_path, own_vocabulary=True))
        assert not m.taxonomy.is_built_in
        assert m.jobs["trade"].tolist() == ["cook", "nanny", "cleaner", "cook"]  # 大厨 is the market's cook
        assert m.workers.loc[4, "skills"] == ["cook"] and m.workers.loc[4, "certificates"] == ["cert_health"]
        assert m.taxonomy.required_certificates("nanny") == ("cert_health", "cert_nanny")  # 健康证 read
        assert m.taxonomy.trades["cook"].related == {"kitchen": 0.5}
        assert eligible_workers(m, "j1") == ["w1", "w5", "w6"]  # w6: kitchen hand, related credit 0.5
        assert eligible_workers(m, "j2") == ["w3"]
        assert eligible_workers(m, "j3") == ["w1", "w2", "w3", "w4", "w5", "w6"]  # entry-level

    def test_batch_run_fills_cooking_and_childcare(self, tmp_path):
        m = load_market(county(tmp_path, own_vocabulary=True))
        result = run_batch(m, HeuristicScorer(), max_km=15, asof_s=pd.Timestamp("2030-01-01").value / 1e9)
        filled = result.assignments.groupby("job_id").size().to_dict()
        assert filled.get("j1") == 2 and filled.get("j2") == 1 and filled.get("j4") == 1

    def test_report_reads_names_and_has_no_mismatch_warning(self, tmp_path):
        readings = Readings()
        m = load_market(county(tmp_path, own_vocabulary=True), readings=readings)
        report = vocabulary_report(m, readings)
        assert report["source"].startswith("the market's own tables")
        cook = next(t for t in report["trades"] if t["code"] == "cook")
        assert {"text": "大厨", "how": "synonym", "count": 1} in cook["read_as"]
        assert any(r["text"] == "厨师" and r["how"] == "name" for r in cook["read_as"])
        assert cook["jobs"] == 2 and cook["workers_with_skill"] == 3
        assert not any("held by no worker" in w for w in report["warnings"])

    def test_simulate_export_and_round_trip_of_a_market_vocabulary(self, tmp_path):
        tax = load_market(county(tmp_path, own_vocabulary=True)).taxonomy
        market, _ = simulate_market(SimulationConfig(workers=300, jobs=60, days=5, seed=2), tax)
        assert set(market.jobs["trade"]) <= set(tax.trades)
        write_market(market, tmp_path / "sim")
        again = load_market(tmp_path / "sim")
        assert again.taxonomy.fingerprint() == tax.fingerprint()
        assert (tmp_path / "sim" / "trades.csv").exists()

    def test_a_contradictory_vocabulary_is_refused_in_one_line(self, tmp_path):
        folder = county(tmp_path, own_vocabulary=True)
        (folder / "trades.csv").write_text(TRADES + "helper,帮工,,大厨,,false,,100\n", encoding="utf-8")
        with pytest.raises(ContractError, match=r"trades.csv: .*'大厨' names both 'cook' and 'helper'"):
            load_market(folder)
        (folder / "trades.csv").write_text(TRADES.replace("kitchen:0.5", "kitchen:1.5"), encoding="utf-8")
        with pytest.raises(ContractError, match=r"row 1, column 'related': 'kitchen:1.5': needs a credit"):
            load_market(folder)


class TestBuiltInRules:
    def test_own_codes_without_tables_get_the_built_in_rules_and_a_clear_hint(self, tmp_path):
        readings = Readings()
        m = load_market(county(tmp_path, own_vocabulary=False), readings=readings)
        assert m.taxonomy.is_built_in
        assert m.jobs.loc[0, "trade"] == "chinese_cooking"  # the built-in English synonym "cook"
        assert m.workers.loc[0, "certificates"] == ["cert_health"]  # unknown: kept as given
        assert eligible_workers(m, "j1") == ["w5"]  # only 健康证 reads as health_cert
        report = vocabulary_report(m, readings)
        hint = next(w for w in report["warnings"] if w.startswith("certificate health_cert"))
        assert "workers hold cert_health (3)" in hint  # the likely mismatch is named
        cooking = next(t for t in report["trades"] if t["code"] == "chinese_cooking")
        assert {"text": "cook", "how": "synonym", "count": 3} in cooking["read_as"]  # two skills, one job
        nanny = next(t for t in report["trades"] if t["code"] == "childcare")
        assert nanny["read_as"][0]["text"] == "nanny"

    def test_batch_run_says_the_vocabulary_is_the_cause(self, tmp_path):
        m = load_market(county(tmp_path, own_vocabulary=False))
        m.workers = m.workers[m.workers["worker_id"] != "w5"].reset_index(drop=True)
        result = run_batch(m, HeuristicScorer(), max_km=15, asof_s=pd.Timestamp("2030-01-01").value / 1e9)
        row = result.unfilled_jobs.set_index("job_id").loc["j1"]
        assert row["reason"] == "certificate_nobody_nearby_holds"
        assert (
            "health_cert" in row["detail"]
            and "trade chinese_cooking in the built-in taxonomy" in row["detail"]
        )

    def test_chinese_names_without_tables_read_through_the_built_in_taxonomy(self, tmp_path):
        folder = tmp_path / "zh"
        folder.mkdir()
        (folder / "workers.csv").write_text(
            "worker_id,lat,lon,skills,certificates\n"
            "a,26.7,117.4,电焊工:6,焊工证@2031-01-01\nb,26.7,117.4,厨师,健康证\nc,26.7,117.4,焊工,\n",
            encoding="utf-8",
        )
        (folder / "jobs.csv").write_text(
            "job_id,trade,lat,lon,start_time\nx,焊工,26.7,117.4,2030-01-05T08:00\ny,中式烹调,26.7,117.4,2030-01-05\n",
            encoding="utf-8",
        )
        m = load_market(folder)
        assert m.workers["skills"].tolist() == [["welding"], ["chinese_cooking"], ["welding"]]
        assert m.workers["certificates"].tolist() == [["welding_cert"], ["health_cert"], []]
        assert eligible_workers(m, "x") == ["a"]  # c has the skill but not the licence
        assert eligible_workers(m, "y") == ["b"]

    def test_built_in_aliases_name_one_entry_each_and_codes_win(self):
        tax = load_taxonomy()  # strict: would raise on an alias naming two entries
        for code in tax.trades:
            assert tax.trade_code(code) == code
        for code in tax.certificates:
            assert tax.certificate_code(code) == code
        for name in ("焊工证", "电工证", "健康证", "登高证", "叉车证", "育婴员证", "母婴护理证"):
            assert tax.read_certificate(name).how in ("name", "synonym"), name


class TestEncodings:
    def test_gb18030_and_utf8_with_bom_are_read(self, tmp_path):
        text = "worker_id,lat,lon,skills\n张三,26.7,117.4,电焊工:3\n"
        for encoding in ("gb18030", "gbk", "utf-8-sig", "utf-8"):
            path = tmp_path / f"{encoding}.csv"
            path.write_bytes(text.encode(encoding))
            df = read_table(path, "workers")
            assert df.loc[0, "worker_id"] == "张三" and df.loc[0, "skills"] == ["welding"], encoding

    def test_other_encodings_are_refused_naming_what_was_tried(self, tmp_path):
        path = tmp_path / "workers.csv"
        path.write_bytes("worker_id,lat,lon,skills\n张三,26.7,117.4,电焊工\n".encode("utf-16"))
        with pytest.raises(ContractError, match=r"^workers.csv: cannot be decoded; tried UTF-8 .*GB18030"):
            read_table(path, "workers")


class TestServiceVocabulary:
    def test_store_seeds_the_vocabulary_and_reads_api_rows_with_it(self, tmp_path):
        m = load_market(county(tmp_path, own_vocabulary=True))
        store = Store(tmp_path / "s.db")
        store.seed(m)
        store.upsert_worker(
            {"worker_id": "w9", "lat": 26.7, "lon": 117.4, "skills": ["大厨"], "certificates": ["健康证明"]}
        )
        store.close()
        again = Store(tmp_path / "s.db")  # the vocabulary survives a restart
        snap = again.snapshot()
        assert snap.taxonomy.fingerprint() == m.taxonomy.fingerprint()
        row = again.market().workers.set_index("worker_id").loc["w9"]
        assert row["skills"] == ["cook"] and row["certificates"] == ["cert_health"]
        again.close()


class TestPointInTime:
    def test_later_jobs_and_events_never_change_earlier_features(self):
        market, _ = simulate_market(SimulationConfig(workers=1500, jobs=600, days=30, seed=5))
        cut = market.jobs["posted_at"].min() + pd.Timedelta(days=15)
        early = market.events[(market.events["event"] == "shown") & (market.events["ts"] < cut)]
        truncated = type(market)(
            workers=market.workers,
            jobs=market.jobs[market.jobs["posted_at"] < cut].reset_index(drop=True),
            employers=market.employers,
            events=market.events[market.events["ts"] < cut].reset_index(drop=True),
        )
        later_jobs = (market.jobs["posted_at"] >= cut).sum()
        assert later_jobs > 200 and len(early) > 1000  # the later days are a real part of the market

        def features(m):
            W, J = encode_market(m)
            j = pd.Index(J.ids).get_indexer(early["job_id"])
            w = pd.Index(W.ids).get_indexer(early["worker_id"])
            asof = early["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
            return build_pairs(J, W, j, w, history=WorkerHistory(m.events, W.ids), asof_s=asof).X

        full, part = features(market), features(truncated)
        assert full.shape == part.shape == (len(early), len(FEATURE_NAMES))
        np.testing.assert_array_equal(full, part)  # all 27 features, bit for bit (NaN equal to NaN)
        assert (
            np.isfinite(column(full, "wage_vs_trade_median")).mean() > 0.9
        )  # the market statistic is really there

    def test_score_cli_gives_the_same_scores_with_or_without_later_days(self, tmp_path):
        market, _ = simulate_market(SimulationConfig(workers=800, jobs=300, days=20, seed=8))
        cut = market.jobs["posted_at"].min() + pd.Timedelta(days=10)
        write_market(market, tmp_path / "full")
        part = type(market)(
            workers=market.workers,
            jobs=market.jobs[market.jobs["posted_at"] < cut].reset_index(drop=True),
            employers=market.employers,
            events=market.events[market.events["ts"] < cut].reset_index(drop=True),
        )
        write_market(part, tmp_path / "part")
        shown = part.events[part.events["event"] == "shown"][["job_id", "worker_id"]].drop_duplicates()
        shown.to_csv(tmp_path / "pairs.csv", index=False)
        scores = {}
        for name in ("full", "part"):
            out = tmp_path / f"{name}.csv"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gigmatch.cli",
                    "score",
                    "--data",
                    str(tmp_path / name),
                    "--pairs",
                    str(tmp_path / "pairs.csv"),
                    "--out",
                    str(out),
                ],
                check=True,
                capture_output=True,
            )
            scores[name] = pd.read_csv(out)
        pd.testing.assert_frame_equal(scores["full"], scores["part"])


def test_validate_cli_prints_the_report_and_json(tmp_path):
    folder = county(tmp_path, own_vocabulary=False)
    text = subprocess.run(
        [sys.executable, "-m", "gigmatch.cli", "validate", "--data", str(folder)],
        capture_output=True,
        text=True,
    )
    assert text.returncode == 0 and "vocabulary: built-in taxonomy" in text.stdout
    assert "health_cert" in text.stdout and "warning" in text.stdout
    js = subprocess.run(
        [sys.executable, "-m", "gigmatch.cli", "validate", "--data", str(folder), "--json"],
        capture_output=True,
        text=True,
    )
    report = json.loads(js.stdout)
    assert report["workers"] == 6 and report["vocabulary"]["warnings"]


def test_taxonomy_export_round_trips_the_built_in_taxonomy(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "gigmatch.cli", "taxonomy", "export", "--out", str(tmp_path)], check=True
    )
    from gigmatch.core.contract import load_vocabulary

    assert load_vocabulary(tmp_path).fingerprint() == default_taxonomy().fingerprint()


def test_service_serves_the_market_vocabulary_and_explains_empty_answers(tmp_path):
    from gigmatch.testing import Server

    plain = county(tmp_path, own_vocabulary=False)
    (plain / "workers.csv").write_text(
        WORKERS.replace("健康证", ""), encoding="utf-8"
    )  # nobody holds health_cert
    own = county(tmp_path, own_vocabulary=True)
    servers = {
        name: Server(tmp_path / f"{name}.db", data=folder)
        for name, folder in (("own", own), ("plain", plain))
    }
    try:
        with servers["own"].client() as c:
            tax = c.get("/v1/taxonomy").json()
            assert tax["source"] == "market" and {t["code"] for t in tax["trades"]} == {
                "cook",
                "kitchen",
                "nanny",
                "cleaner",
            }
            ranked = c.post("/v1/rank", json={"job_id": "j1", "limit": 10}).json()
            assert {x["worker_id"] for x in ranked["candidates"]} == {"w1", "w5", "w6"}
            assert ranked["message"] is None
            inline = c.post("/v1/rank", json={"job": {"trade": "炒菜师傅", "lat": 26.7, "lon": 117.4}}).json()
            assert {x["worker_id"] for x in inline["candidates"]} == {
                "w1",
                "w5",
                "w6",
            }  # read as the market's cook
        with servers["plain"].client() as c:
            assert c.get("/v1/taxonomy").json()["source"] == "built-in"
            empty = c.post("/v1/rank", json={"job_id": "j1", "limit": 10}).json()
            assert empty["candidates"] == []
            assert "health_cert" in empty["message"] and "built-in taxonomy" in empty["message"]
            far = c.post("/v1/rank", json={"job": {"trade": "moving", "lat": 40.0, "lon": 100.0}}).json()
            assert far["message"] == "no worker lives within 15 km of the job"
    finally:
        for srv in servers.values():
            srv.stop()
