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
from features.pairs import build_pairs
from gigmatch.core.contract import ContractError, Readings, load_market, read_table, write_market
from gigmatch.core.taxonomy import default_taxonomy, load_taxonomy
from gigmatch.core.vocabulary import vocabulary_report
from gigmatch.sim import SimulationConfig, simulate_market
from matcher.batch import run_batch
from models.heuristic import HeuristicScorer
from tests.helpers import TRADES, county


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


def test_the_report_counts_in_words_that_agree(tmp_path, capsys):
    # issue #20: "1 job(s)", "1 warning(s)"
    from gigmatch.cli import main
    from tests.helpers import county

    folder = county(tmp_path, own_vocabulary=False)
    assert main(["validate", "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "(s)" not in out and "warning" in out
    warnings = [line for line in out.splitlines() if line.endswith(":") and "warning" in line]
    n = int(warnings[0].split()[0]) if warnings else 0
    assert not warnings or warnings[0] == (f"{n} warning:" if n == 1 else f"{n} warnings:")
