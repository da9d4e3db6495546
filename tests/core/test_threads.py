"""Thread sizing (issue #20): passive OpenMP waiting and thread pools sized to the process's budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gigmatch.cli import main
from gigmatch.core.threads import cpu_count, thread_budget, worker_environment

ROOT = Path(__file__).resolve().parents[2]


def test_budget_is_the_cpus_given_or_the_setting(monkeypatch):
    monkeypatch.delenv("GIGMATCH_THREADS", raising=False)
    assert 1 <= thread_budget() == cpu_count() <= (os.cpu_count() or 1)
    monkeypatch.setenv("GIGMATCH_THREADS", "3")
    assert thread_budget() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("GIGMATCH_THREADS", bad)
        with pytest.raises(ValueError, match=f"GIGMATCH_THREADS='{bad}': must be a positive whole number"):
            thread_budget()


def test_a_bad_setting_is_one_line_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("GIGMATCH_THREADS", "lots")
    assert main(["validate", "--data", str(ROOT)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "gigmatch validate: error: GIGMATCH_THREADS='lots': must be a positive whole number of threads"
    ]


PROBE = """
import json, os, sys
sys.argv = ["gigmatch", "--version"]
from gigmatch.core.threads import configure_threads
n = configure_threads()
import lightgbm  # noqa: F401  (loads the OpenMP runtime after configure_threads, as the CLI does)
from threadpoolctl import threadpool_info
omp = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]
print(json.dumps({"n": n, "policy": os.environ["OMP_WAIT_POLICY"], "openmp_threads": omp}))
"""


def probe(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GIGMATCH_THREADS"))}
    environ.update(env, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_openmp_runtime_lightgbm_loads_is_passive_and_sized():
    got = probe(GIGMATCH_THREADS="1")
    assert got["n"] == 1 and got["policy"] == "PASSIVE"
    assert got["openmp_threads"] and set(got["openmp_threads"]) == {1}  # the real runtime's pool size
    assert probe(OMP_WAIT_POLICY="ACTIVE")["policy"] == "ACTIVE"  # an explicit value wins


def test_the_ranker_trains_with_the_budget_unless_told_otherwise(monkeypatch):
    from models.ranker import GigRanker

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 27)).astype(np.float32)
    y = rng.integers(0, 3, size=200)
    group = np.full(20, 10)
    monkeypatch.setenv("GIGMATCH_THREADS", "1")
    model = GigRanker(n_estimators=3).fit(X, y, group).model_
    assert model.get_params()["num_threads"] == 1
    model = GigRanker(n_estimators=3, n_jobs=2).fit(X, y, group).model_
    assert "num_threads" not in model.get_params() and model.get_params()["n_jobs"] == 2


def test_worker_environment_sizes_everything():
    env = worker_environment(1)
    assert env["OMP_NUM_THREADS"] == env["GIGMATCH_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["OMP_WAIT_POLICY"] in ("PASSIVE", os.environ.get("OMP_WAIT_POLICY"))


def test_the_local_dask_cluster_has_sized_passive_workers():
    pytest.importorskip("dask.distributed")
    from gigmatch.cli._common import dask_client

    client = dask_client("local")
    try:
        info = client.scheduler_info()["workers"]
        assert len(info) == max(2, thread_budget()) and {w["nthreads"] for w in info.values()} == {1}
        seen = client.run(lambda: (os.environ["OMP_WAIT_POLICY"], os.environ["GIGMATCH_THREADS"]))
        assert set(seen.values()) == {("PASSIVE", "1")}
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
