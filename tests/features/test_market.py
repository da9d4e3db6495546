"""Point-in-time market statistics: later jobs and events never change an earlier pair's features (#11)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from features.encode import encode_market
from features.history import WorkerHistory
from features.pairs import FEATURE_NAMES, build_pairs
from features.registry import column
from gigmatch.core.contract import write_market
from gigmatch.sim import SimulationConfig, simulate_market


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
