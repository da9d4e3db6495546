import json
import shutil

import numpy as np
import pandas as pd
import pytest

from gigmatch.cli import main
from models.heuristic import HeuristicScorer
from models.registry import Registry, RegistryError, feature_schema_hash, load_version
from models.scorer import load_scorer
from models.train import holdout_ndcg, promote, train

REQUIRED_META = {
    "version",
    "created_at",
    "feature_names",
    "feature_schema_hash",
    "data",
    "params",
    "metrics",
    "library_versions",
    "git_commit",
}


@pytest.fixture(scope="module")
def registry(small_market_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    good, meta = train(small_market_dir, root, seed=1)
    return root, good.version, meta


def test_first_model_becomes_current_with_full_metadata(registry, small_market_dir):
    root, version, meta = registry
    reg = Registry(root)
    assert reg.current() == version and reg.versions() == [version]
    assert REQUIRED_META <= set(meta)
    assert meta["feature_schema_hash"] == feature_schema_hash()
    assert meta["data"]["train"]["rows"] > 0 and meta["data"]["test"]["rows"] > 0
    assert (
        meta["data"]["train"]["to"]
        < meta["data"]["valid"]["from"]
        <= meta["data"]["valid"]["to"]
        < meta["data"]["test"]["from"]
    )
    assert {"lightgbm", "numpy", "scikit-learn", "python"} <= set(meta["library_versions"])
    scores = meta["metrics"]["test"]["scores"]
    assert {"model", "distance_only", "skill_only", "heuristic", "oracle"} <= set(scores)
    assert scores["model"]["ndcg@10"] > scores["distance_only"]["ndcg@10"]
    assert json.loads((root / "versions" / version / "metadata.json").read_text())["version"] == version


def test_promote_refuses_a_worse_model_unless_forced(registry, small_market_dir):
    root, good_version, _ = registry
    worse, _ = train(
        small_market_dir, root, seed=2, params={"n_estimators": 1, "num_leaves": 2, "min_child_samples": 5000}
    )
    reg = Registry(root)
    assert reg.current() == good_version  # a second model is not promoted by training
    assert holdout_ndcg(worse, small_market_dir) < holdout_ndcg(
        load_version(root / "versions" / good_version), small_market_dir
    )
    with pytest.raises(RegistryError, match=r"refusing to promote .* is worse than current"):
        promote(root, worse.version, data_dir=small_market_dir)
    assert reg.current() == good_version
    result = promote(root, worse.version, force=True)
    assert result["forced"] and reg.current() == worse.version
    assert reg.rollback() == good_version and reg.current() == good_version
    # the CLI takes VERSION before or after the flags (issue #20)
    assert main(["models", "promote", "--registry", str(root), worse.version, "--force"]) == 0
    assert reg.current() == worse.version
    assert main(["models", "rollback", "--registry", str(root)]) == 0 and reg.current() == good_version
    assert main(["models", "promote", worse.version, "--force", "--registry", str(root)]) == 0
    assert reg.current() == worse.version
    assert reg.rollback() == good_version
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()


def test_schema_mismatch_and_corrupt_artifacts_are_refused(registry, tmp_path):
    root, version, _ = registry
    copy = tmp_path / "v"
    shutil.copytree(root / "versions" / version, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["feature_schema_hash"] = "0000000000000000"
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RegistryError, match=r"feature schema 0000000000000000 does not match this code's"):
        load_version(copy)
    shutil.copytree(root / "versions" / version, tmp_path / "t")
    blob = (tmp_path / "t" / "model.joblib").read_bytes()
    (tmp_path / "t" / "model.joblib").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(RegistryError, match="cannot be loaded"):
        load_version(tmp_path / "t")


def test_cold_start_uses_the_heuristic_and_says_so(tmp_path):
    (tmp_path / "registry" / "versions").mkdir(parents=True)  # a registry with no model yet
    (tmp_path / "empty").mkdir()
    for path in (None, tmp_path / "empty", tmp_path / "registry"):
        scorer = load_scorer(path)
        assert isinstance(scorer, HeuristicScorer) and scorer.version == "heuristic-v1"
    # a path that does not exist is a mistake (issue #20), never a silent cold start
    with pytest.raises(RegistryError, match=r"missing: does not exist"):
        load_scorer(tmp_path / "missing")
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(RegistryError, match="neither a model registry nor a model version"):
        load_scorer(tmp_path)


def test_cli_score_evaluate_and_list(registry, small_market_dir, tmp_path, capsys):
    root, version, _ = registry
    events = pd.read_csv(small_market_dir / "events.csv")
    shown = events[events["event"] == "shown"][["job_id", "worker_id"]].head(50)
    jobs = pd.read_csv(small_market_dir / "jobs.csv")
    workers = pd.read_csv(small_market_dir / "workers.csv")
    never_shown = pd.DataFrame(
        {"job_id": jobs["job_id"].head(3), "worker_id": workers["worker_id"].tail(3).to_numpy()}
    )
    pd.concat([shown, never_shown]).to_csv(tmp_path / "pairs.csv", index=False)
    assert (
        main(
            [
                "score",
                "--model",
                str(root),
                "--data",
                str(small_market_dir),
                "--pairs",
                str(tmp_path / "pairs.csv"),
                "--out",
                str(tmp_path / "scores.csv"),
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["job_id", "worker_id", "score"] and len(scores) == 53
    assert np.isfinite(scores["score"]).all() and scores["score"].nunique() > 10
    capsys.readouterr()
    assert main(["evaluate", "--model", str(root), "--data", str(small_market_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["model_version"] == Registry(root).current() and 0 < report["model_vs_oracle_ndcg@10"] <= 1.05
    )
    assert main(["models", "list", "--registry", str(root)]) == 0
    assert f"* {Registry(root).current()}" in capsys.readouterr().out
    # the text report names every scorer in full (it cut them at 16 characters: issue #20)
    assert main(["evaluate", "--model", str(root), "--data", str(small_market_dir)]) == 0
    table = capsys.readouterr().out
    assert f"model ({Registry(root).current()})" in table and "heuristic" in table


def test_cli_score_refuses_unknown_ids(registry, small_market_dir, tmp_path, capsys):
    root, _, _ = registry
    (tmp_path / "p.csv").write_text("job_id,worker_id\nnope,w000001\n")
    assert (
        main(
            [
                "score",
                "--model",
                str(root),
                "--data",
                str(small_market_dir),
                "--pairs",
                str(tmp_path / "p.csv"),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 2
    )
    assert "p.csv: row 1, column 'job_id': unknown job 'nope'" in capsys.readouterr().err


def test_dask_training_on_a_local_cluster_ranks_as_well(registry, small_market_dir, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    root, version, _ = registry
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_model, meta = train(small_market_dir, tmp_path / "reg", seed=1, dask_client=client)
    assert meta["params"]["trainer"] == "dask"
    local = holdout_ndcg(load_version(root / "versions" / version), small_market_dir)
    spread = holdout_ndcg(dask_model, small_market_dir)
    assert spread >= local - 0.03, (spread, local)


def test_two_fits_within_one_second_get_distinct_versions(small_market_dir, tmp_path, monkeypatch):
    """The same data and seed trained twice in one second (a debiased fit, then --no-debias) must not
    collide on the version name: the second gets ``-2``, and both are listed oldest first."""
    import datetime as dt

    import models.train as train_module

    fixed = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return fixed

    monkeypatch.setattr(train_module, "datetime", Frozen)
    fast = {"n_estimators": 5}
    _, first = train(small_market_dir, tmp_path, seed=1, params=fast)
    _, second = train(small_market_dir, tmp_path, seed=1, params=fast)
    assert second["version"] == first["version"] + "-2"
    assert Registry(tmp_path).versions() == [first["version"], second["version"]]
    assert Registry(tmp_path).current() == first["version"]
