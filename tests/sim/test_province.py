"""A province simulated county by county: the spread rule, unique ids, reproducibility, one market."""

import json

import numpy as np
import pandas as pd
import pytest

from gigmatch.cli import main
from gigmatch.core.contract import load_market
from gigmatch.sim.province import find_province, spread


def test_a_province_is_found_by_name_with_or_without_its_suffix():
    sichuan = find_province("四川省")
    assert len(sichuan) == 183 and {r.province for r in sichuan} == {"四川省"}
    assert [r.adcode for r in find_province("四川")] == [r.adcode for r in sichuan]
    assert len(find_province("宁夏")) == 22
    assert find_province("将乐县") is None and find_province("川") is None


def test_spread_is_proportional_to_disc_area_and_exact():
    counties = find_province("四川省")
    share = spread(1_000_000, counties)
    assert share.sum() == 1_000_000
    area = np.array([r.radius_km**2 for r in counties])
    assert np.abs(share - 1_000_000 * area / area.sum()).max() < 1  # largest remainders
    assert np.array_equal(spread(1_000_000, counties), share)


@pytest.fixture(scope="module")
def ningxia(tmp_path_factory):
    out = tmp_path_factory.mktemp("ningxia")
    argv = [
        "simulate",
        "--region",
        "宁夏",
        "--workers",
        "1500",
        "--jobs",
        "300",
        "--days",
        "5",
        "--seed",
        "3",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    return out, argv


def test_province_market_loads_as_one_market_with_unique_prefixed_ids(ningxia):
    out, _ = ningxia
    m = load_market(out)
    assert len(m.workers) == 1500 and len(m.jobs) == 300
    assert m.workers["worker_id"].is_unique and m.jobs["job_id"].is_unique
    truth = json.loads((out / "truth" / "simulation.json").read_text())
    assert len(truth["counties"]) == 22 and sum(c["workers"] for c in truth["counties"]) == 1500
    adcodes = {c["adcode"] for c in truth["counties"]}
    assert set(m.workers["worker_id"].str.split("-").str[0]) == adcodes
    # workers live in their own county's disc: ids and places agree
    counts = m.workers["worker_id"].str.split("-").str[0].value_counts()
    assert all(counts[c["adcode"]] == c["workers"] for c in truth["counties"])
    oracle = pd.read_csv(out / "truth" / "oracle.csv")
    assert oracle["worker_id"].isin(m.workers["worker_id"]).all()


def test_province_simulation_is_reproducible(ningxia, tmp_path):
    out, argv = ningxia
    assert main([*argv, "--out", str(tmp_path)]) == 0
    for name in ("workers.csv", "jobs.csv", "events.csv"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes()
