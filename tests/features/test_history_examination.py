"""Worker history counts a positioned ``shown`` event as its examination probability (issue #17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.history import WorkerHistory
from features.reputation import APPLY_PRIOR_RATE, APPLY_PRIOR_WEIGHT

DAY = np.timedelta64(86_400, "s")
T0 = np.datetime64("2026-09-01T08:00:00")
N = 12  # workers per list
POWER = 0.7


def planted_events(seed: int = 1, days: int = 8, lists_per_day: int = 500) -> pd.DataFrame:
    """A positioned log: each job's list of N pool workers, shown in the order of their appeal (or at
    random for 30% of the lists), examined with probability ``p ** -POWER``; worker ``low`` stands at
    position 9 and worker ``top`` at position 1 of every list from day 2 on, and each applies to half the
    offers it examines. Returns the ``events`` frame (``shown`` and ``applied``)."""
    rng = np.random.default_rng(seed)
    n_lists = days * lists_per_day
    appeal = rng.uniform(0.05, 0.6, size=(n_lists, N))
    explore = rng.random(n_lists) < 0.3
    key = np.where(explore[:, None], rng.random((n_lists, N)), -appeal)
    position = np.argsort(np.argsort(key, axis=1), axis=1) + 1
    greedy = np.argsort(np.argsort(-appeal, axis=1), axis=1) + 1
    propensity = (1 - 0.3) * (greedy == position) + 0.3 / N
    worker = rng.integers(0, 2000, size=(n_lists, N)).astype(str).astype(object)
    day = np.repeat(np.arange(days), lists_per_day)
    planted = day >= 1
    worker[planted] = np.where(position[planted] == 9, "low", worker[planted])
    worker[planted] = np.where(position[planted] == 1, "top", worker[planted])
    appeal = np.where(np.isin(worker, ["low", "top"]), 0.5, appeal)
    theta = position.astype(float) ** -POWER
    applied = (rng.random((n_lists, N)) < theta) & (rng.random((n_lists, N)) < appeal)
    ts = T0 + day * DAY + np.arange(n_lists) % lists_per_day * np.timedelta64(60, "s")
    shown = pd.DataFrame(
        {
            "job_id": np.repeat(np.arange(n_lists).astype(str), N),
            "worker_id": worker.ravel(),
            "ts": np.repeat(ts, N),
            "event": "shown",
            "position": position.ravel().astype(float),
            "propensity": propensity.ravel(),
        }
    )
    apps = shown[applied.ravel()].assign(event="applied", ts=lambda d: d["ts"] + np.timedelta64(600, "s"))
    out = pd.concat([shown, apps], ignore_index=True).sort_values("ts", kind="stable", ignore_index=True)
    return out.assign(rating=np.nan)


def apply_rate(h: dict, i: int) -> float:
    return (APPLY_PRIOR_RATE * APPLY_PRIOR_WEIGHT + h["applied"][i]) / (APPLY_PRIOR_WEIGHT + h["shown"][i])


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return planted_events()


@pytest.fixture(scope="module")
def workers(events) -> np.ndarray:
    return np.sort(events["worker_id"].unique())


def asof_all(H: WorkerHistory, ts: np.datetime64) -> dict:
    return H.asof(np.arange(len(H.worker_ids)), float(ts.astype("datetime64[s]").astype(np.int64)))


def test_a_worker_shown_low_gets_the_apply_rate_of_one_shown_first_with_the_same_examined_behaviour(
    events, workers
):
    H = WorkerHistory(events, workers)
    h = asof_all(H, T0 + 10 * DAY)
    low, top = (int(np.flatnonzero(workers == w)[0]) for w in ("low", "top"))
    plain = WorkerHistory(events.drop(columns=["position", "propensity"]), workers)
    p = asof_all(plain, T0 + 10 * DAY)
    # unweighted, the worker shown at position 9 looks ~4x less keen (examined 9 ** -0.7 = 0.21 of the time)
    assert apply_rate(p, low) < 0.5 * apply_rate(p, top)
    # counted in expected examined showings, both apply to about half of what they examined
    assert apply_rate(h, top) == pytest.approx(0.5, abs=0.05)
    assert apply_rate(h, low) == pytest.approx(0.5, abs=0.08)
    assert h["shown"][low] == pytest.approx(p["shown"][low] * 9**-POWER, rel=0.15)
    assert h["shown"][top] == p["shown"][top]  # position 1 is examined: weight 1


def test_without_positions_every_count_is_the_plain_count(events, workers):
    bare = events.drop(columns=["position", "propensity"])
    H = WorkerHistory(bare, workers)
    h = asof_all(H, T0 + 10 * DAY)
    shown = bare[bare["event"] == "shown"].groupby("worker_id").size().reindex(workers, fill_value=0)
    applied = bare[bare["event"] == "applied"].groupby("worker_id").size().reindex(workers, fill_value=0)
    assert np.array_equal(h["shown"], shown.to_numpy(dtype=float))
    assert np.array_equal(h["applied"], applied.to_numpy(dtype=float))
    # empty position columns (a validated log without feedback) give the same as no columns at all
    empty = WorkerHistory(bare.assign(position=np.nan, propensity=np.nan), workers)
    for k, v in asof_all(empty, T0 + 10 * DAY).items():
        assert np.array_equal(v, h[k], equal_nan=True), k


def test_earlier_features_do_not_change_when_later_days_are_appended(events, workers):
    full = WorkerHistory(events, workers)
    w = np.arange(len(workers))
    for cut_day in (2, 5):
        cut = T0 + cut_day * DAY - np.timedelta64(8, "h")  # midnight
        before = events[events["ts"] < cut]
        H = WorkerHistory(before, workers)
        for t in (cut - np.timedelta64(3, "h"), cut):
            t_s = float(t.astype("datetime64[s]").astype(np.int64))
            a, b = H.asof(w, t_s), full.asof(w, t_s)
            for k in a:
                assert np.array_equal(a[k], b[k], equal_nan=True), (cut_day, k)
        # and the incremental path equals the full rebuild bit for bit
        ext = H.extended(events[events["ts"] >= cut])
        for k, v in asof_all(ext, T0 + 10 * DAY).items():
            assert np.array_equal(v, asof_all(full, T0 + 10 * DAY)[k], equal_nan=True), k
    # the weights did use the examination curve (not all 1)
    h = asof_all(full, T0 + 10 * DAY)
    assert not np.array_equal(h["shown"], np.round(h["shown"]))


def test_the_first_day_counts_showings_as_examined_until_a_curve_is_known(events, workers):
    day1 = events[events["ts"] < T0 + DAY]
    h = asof_all(WorkerHistory(day1, workers), T0 + DAY)
    plain = asof_all(WorkerHistory(day1.drop(columns=["position", "propensity"]), workers), T0 + DAY)
    assert np.array_equal(h["shown"], plain["shown"])
