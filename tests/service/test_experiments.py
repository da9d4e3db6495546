"""Online experiments (issue #17): assignment, team draft, and a real server with two variants whose
log the report reads back."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gigmatch.cli import main
from gigmatch.testing import Server
from models.registry import Registry
from models.train import train
from service.experiments import ExperimentError, parse_experiment, team_draft


def spec(mode="split", **shares):
    return json.dumps(
        {
            "name": "exp-test",
            "mode": mode,
            "variants": [{"name": n, "model": m, "share": s} for n, (m, s) in shares.items()],
        }
    )


def test_assignment_is_stable_and_follows_the_shares():
    exp = parse_experiment(spec(a=("heuristic", 0.2), b=("heuristic", 0.8)))
    ids = [f"j{i:06d}" for i in range(20_000)]
    first = [exp.assign(i).name for i in ids]
    assert first == [exp.assign(i).name for i in ids]  # stable
    assert abs(np.mean([n == "a" for n in first]) - 0.2) < 0.015  # 4 sd of a binomial share
    other = parse_experiment(spec(a=("heuristic", 0.3), b=("heuristic", 0.7)))
    moved = [f != other.assign(i).name for f, i in zip(first, ids, strict=True)]
    assert abs(np.mean(moved) - 0.1) < 0.01  # changing shares moves only the units between the edges


def test_team_draft_by_hand():
    merged = team_draft(["a", "b", "c", "d"], ["b", "e", "a", "f"], 5, "seed")
    items = [i for i, _ in merged]
    assert len(items) == len(set(items)) == 5
    # each team's picks appear in its own ranking's order and every round both teams pick once
    for team, ranking in ((0, ["a", "b", "c", "d"]), (1, ["b", "e", "a", "f"])):
        picks = [i for i, t in merged if t == team]
        assert picks == sorted(picks, key=ranking.index)
    assert sorted(t for _, t in merged[:4]) == [0, 0, 1, 1]
    assert merged == team_draft(["a", "b", "c", "d"], ["b", "e", "a", "f"], 5, "seed")  # seeded


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{nope", "not valid JSON"),
        (json.dumps({"variants": []}), "name"),
        (spec(a=("heuristic", 0.5), b=("heuristic", 0.4)), "shares sum to 0.9"),
        (spec(a=("heuristic", 0), b=("heuristic", 1)), "variants.0.share"),
        (spec("interleave", a=("heuristic", 1)), "interleave needs exactly 2"),
        (spec("bandit", a=("heuristic", 1)), "mode"),
    ],
)
def test_bad_experiments_are_refused_naming_the_field(text, field):
    with pytest.raises(ExperimentError, match=re.escape(field)):
        parse_experiment(text)


@pytest.fixture(scope="module")
def registry(small_market_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("exp-registry")
    train(small_market_dir, root, seed=2, params={"n_estimators": 60})
    return root


def test_a_real_server_splits_traffic_and_the_report_recovers_a_planted_difference(
    small_market_dir, registry, tmp_path, capsys
):
    """Two variants (the heuristic at 30%, the trained model at 70%) on a real server: the split is
    stable per job and near the shares, /metrics counts per variant, and after feedback in which the
    model's lists draw three times the applications, the report calls the model better."""
    version = Registry(registry).current()
    experiment = spec(control=("heuristic", 0.3), model=(version, 0.7))
    db = tmp_path / "store.db"
    srv = Server(
        db, data=small_market_dir, model=registry, GIGMATCH_EXPERIMENT=experiment, start_timeout_s=240
    )
    rng = np.random.default_rng(0)
    planted = {"control": 0.08, "model": 0.24}
    try:
        variant_of, events = {}, []
        with srv.client() as c:
            for i in range(250):
                job = f"j{i:06d}"
                body = c.post("/v1/rank", json={"job_id": job, "limit": 8}).json()
                variant_of[job] = body["variant"]
                assert body["experiment"] == "exp-test"
                assert body["policy"] == ("heuristic-v1" if body["variant"] == "control" else version)
                for cand in body["candidates"]:
                    base = {"job_id": job, "worker_id": cand["worker_id"]}
                    events.append(
                        {
                            **base,
                            "ts": "2026-11-20T09:00:00",
                            "event": "shown",
                            "position": cand["position"],
                            "policy": cand["policy"],
                        }
                    )
                    if rng.random() < planted[body["variant"]]:
                        events.append({**base, "ts": "2026-11-20T10:00:00", "event": "applied"})
            for job in list(variant_of)[:50]:  # stable: the same job gets the same variant again
                assert (
                    c.post("/v1/rank", json={"job_id": job, "limit": 3}).json()["variant"] == variant_of[job]
                )
            for start in range(0, len(events), 2000):
                assert c.post("/v1/events", json={"events": events[start : start + 2000]}).status_code == 200
            metrics = c.get("/metrics").text
        share = np.mean([v == "model" for v in variant_of.values()])
        assert abs(share - 0.7) < 0.1, share
        for name in ("control", "model"):
            line = f'gigmatch_experiment_requests_total{{endpoint="/v1/rank",experiment="exp-test",variant="{name}"}}'
            served = sum(v == name for v in variant_of.values()) + sum(
                variant_of[j] == name for j in list(variant_of)[:50]
            )
            assert f"{line} {float(served)}" in metrics
    finally:
        srv.stop()
    capsys.readouterr()
    assert main(["experiment", "report", "--data", str(db), "--experiment", experiment, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rates = {n: v["applied"]["rate"] for n, v in report["variants"].items()}
    assert abs(rates["control"] - 0.08) < 0.04 and abs(rates["model"] - 0.24) < 0.05, rates
    verdict = report["verdict"]["model"]
    assert verdict["verdict"] == "better" and verdict["ci"][0] > 0
    assert main(["experiment", "report", "--data", str(db), "--experiment", experiment]) == 0
    assert "model vs control" in capsys.readouterr().out


def test_interleaving_merges_two_rankers_and_credits_each_team(small_market_dir, registry, tmp_path, capsys):
    version = Registry(registry).current()
    experiment = spec("interleave", heuristic=("heuristic", 0.5), model=(version, 0.5))
    srv = Server(
        tmp_path / "store.db",
        data=small_market_dir,
        model=registry,
        GIGMATCH_EXPERIMENT=experiment,
        start_timeout_s=240,
    )
    try:
        with srv.client() as c:
            body = c.post("/v1/rank", json={"job_id": "j000003", "limit": 10}).json()
            again = c.post("/v1/rank", json={"job_id": "j000003", "limit": 10}).json()
            rec = c.post("/v1/recommend", json={"worker_id": "w000001", "max_km": 30}).json()
    finally:
        srv.stop()
    assert body["variant"] == "interleave" and body["policy"].startswith("interleave:")
    cands = body["candidates"]
    assert [x["position"] for x in cands] == list(range(1, len(cands) + 1))
    assert len({x["worker_id"] for x in cands}) == len(cands)
    assert {x["policy"] for x in cands} == {"heuristic-v1", version}
    assert cands == again["candidates"]  # the coins are seeded by the job
    assert rec["variant"] == "interleave"
