"""Market replay: run a showing policy day by day over a market and measure what it does to the market.

``gigmatch replay --data DIR --policy random|relevance|slates --days D --out OUT`` (:func:`replay_market`).

The market folder gives the workers, employers and jobs (any market in the data contract, simulated or
not). Its events before the replay's first day are the history; later ones are ignored: the policy
decides who is shown what, and the behavioural model below decides what follows.

Each day, at 08:00 market time
    1. **Open jobs**: posted before now, not started (a job without a start time stays open three
       days after posting; one without a posting time is posted three days before its start), slots
       left, employer not blacklisted.
    2. **Candidates**: each open job's ``candidates_per_job`` nearest workers able to do the trade
       within ``max_km`` (:class:`matcher.retrieval.CandidateRetriever`), eligible under every hard
       constraint, not shown that job before, and not busy on any of its days (they would not apply).
       Features are computed point-in-time (now) by :func:`features.pairs.build_pairs`, with the
       history extended by the replay's own events as they happen.
    3. **The policy** shows each job to up to ``slate_size`` of them:
       ``random`` (uniformly at random: a floor), ``relevance`` (the scorer's top ``slate_size`` per job,
       what ``/v1/rank`` does today), ``slates`` (:func:`matcher.slates.plan_slates` on the calibrated
       P(completed) from :func:`models.calibration.p_match`, discounted for the offers each worker
       holds by :func:`matcher.slates.exposure_discount`, as ``POST /v1/slates`` does; at most ``max_per_worker`` offers per
       worker, counting their shows of the last ``window_hours``, :func:`matcher.slates.held_offers`;
       with ``long_waiting_share`` > 0 that minimum share of places for workers whose last hire is at
       least ``long_waiting_days`` ago, :func:`matcher.slates.long_waiting_workers`).
    4. **Behaviour** (extends :mod:`gigmatch.sim.behaviour` to capacity; every draw is a hash of
       (seed, job, worker, stage), so all policies face the same dice for the same pair):

       * *apply*: ``p_a = sigmoid(-1.0 + 1.6 exact + 0.8 related + 0.7 preferred - 0.15 d_km
         - 0.6 max(0, d_km - max_travel_km) + 2.0 log(wage / min_wage) + 0.4 (employer_rating - 4)
         + 0.8 activity + 0.5 z1)``, the simulator's model, read from the pair's features.
       * *screen*: the employer would take the applicant w.p. ``p_h = sigmoid(-0.3 + 1.2 exact
         + 0.5 related + 0.08 min(years, 10) + 0.9 quality)``.
       * *hire*: each job offers its open slots to the screened applicants in order of ``p_h``; a
         worker takes at most one offer a day, the best one (highest apply logit without noise, i.e.
         nearest, best paid, preferred trade), never one whose days overlap a job already taken (a
         worker works at most one job a day); a refused offer passes to the job's next applicant once
         that day (:data:`OFFER_ROUNDS` = 2 rounds); a slot still open waits for the next day's showing
         (an employer waits on applicants who are busy elsewhere). Applicants not hired are not carried
         to the next day.
       * *complete*: ``p_c = reliability * exp(-d_km / 150)`` at the job's start, no-show otherwise.
    5. Events (``shown``, ``applied``, ``declined`` w.p. 0.5 of a non-applicant, ``hired``,
       ``completed``/``no_show`` at the job's start/end) join the history.

Latent traits the tables do not hold are drawn once from the seed, informed by each worker's record:
quality = ``w q_obs + sqrt(1 - w^2) z`` with ``q_obs = clip((rating_avg - 4) / 0.5, -3, 3)`` and
``w = rating_count / (rating_count + 5)`` (z ~ N(0, 1)); reliability ~ Beta(9 + jobs_completed,
1.2 + 2 no_shows); activity ~ N(0, 1). The same seed gives the same workers and dice for every policy.

Figures (per day and in total, :data:`DAY_COLUMNS`, :func:`summarise`): slots filled, hires,
completions, mean distance of hires, exposure Gini (shows per worker over the workers who were
candidates), the share of active workers (candidates at least once in the last 7 days) never shown in
those 7 days, the share of shows to workers waiting more than ``long_waiting_days`` since their last
hire (no hire in that window and not registered within it; :func:`matcher.slates.long_waiting_workers`,
the same rule the API uses), applications per job and the share of jobs with none.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from features.encode import encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from features.registry import column
from gigmatch.core.contract import Market
from gigmatch.core.defaults import DEFAULT_MAX_KM
from matcher.retrieval import CandidateRetriever
from matcher.slates import (
    exposure_discount,
    exposure_figures,
    gini,
    held_offers,
    long_waiting_workers,
    plan_slates,
)
from models.calibration import p_match

POLICIES = ("random", "relevance", "slates")
DAY_S = 86_400.0
PLAN_HOUR = 8  # the day's showing is planned at 08:00 market time
OPEN_WITHOUT_START_DAYS = 3  # a job with no start time stays open this long after posting
OFFER_ROUNDS = 2  # offer rounds per day: a refused offer passes to the next applicant once, then waits a day
ACTIVE_WINDOW_DAYS = 7
HORIZON_EXTRA_DAYS = 60  # work days tracked past the last replayed day

DAY_COLUMNS = (
    "day",
    "open_jobs",
    "open_slots",
    "candidates",
    "shows",
    "applications",
    "hires",
    "completions",
    "no_shows",
    "mean_distance_km",
    "exposure_gini",
    "share_active_never_shown_7d",
    "share_shows_long_waiting",
    "share_shown_jobs_no_application",
    "plan_gap",
    "plan_method",
    "plan_solves",
)


@dataclass(frozen=True)
class ReplayConfig:
    """What to replay; the same config over the same market gives the same figures.

    Parameters
    ----------
    policy : {"random", "relevance", "slates"}
    days : int
        Days to replay, >= 1.
    seed : int
        Seed of the latent traits and every draw.
    slate_size : int
        Workers each open job is shown per day.
    max_per_worker : int
        ``slates`` only: offers a worker may hold at once.
    window_hours : float
        ``slates`` only: the worker's shows of this window count as held offers.
    max_km : float
        Retrieval radius around each job, km.
    long_waiting_days : float
        A worker whose last hire is at least this many days ago is long-waiting.
    long_waiting_share : float
        ``slates`` only: minimum share of places for long-waiting workers (0: none).
    candidates_per_job : int
        Nearest able workers considered per job.
    start : str, optional
        First replayed day (``YYYY-MM-DD``); default the first day a job is posted.
    """

    policy: str = "slates"
    days: int = 30
    seed: int = 7
    slate_size: int = 10
    max_per_worker: int = 3
    window_hours: float = 24.0
    max_km: float = DEFAULT_MAX_KM
    long_waiting_days: float = 14.0
    long_waiting_share: float = 0.0
    candidates_per_job: int = 200
    start: str | None = None

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        for name in ("days", "slate_size", "max_per_worker", "candidates_per_job"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.long_waiting_share <= 1.0:
            raise ValueError(f"long_waiting_share must be in [0, 1], got {self.long_waiting_share}")
        if not (self.max_km > 0 and self.window_hours >= 0 and self.long_waiting_days >= 0):
            raise ValueError("max_km must be > 0, window_hours and long_waiting_days >= 0")


@dataclass
class ReplayResult:
    """What :func:`replay_market` returns: ``days`` (one row per day, :data:`DAY_COLUMNS`),
    ``summary`` (totals and the config), ``events`` (the replay's event log, contract columns)."""

    days: pd.DataFrame
    summary: dict
    events: pd.DataFrame = field(default_factory=pd.DataFrame)


_STAGES = {"z1": 1, "screen": 2, "complete": 3, "decline": 4, "random": 5, "apply": 6}


def pair_uniform(seed: int, job: np.ndarray, worker: np.ndarray, stage: str, day: int = 0) -> np.ndarray:
    """Uniform(0, 1) draws that depend only on (seed, job, worker, stage, day): common random numbers.

    Parameters
    ----------
    seed : int
    job, worker : int arrays of shape (n,)
        Indices of the pairs.
    stage : str
        One of the behavioural stages (``z1``, ``apply``, ``screen``, ``complete``, ``decline``, ``random``).
    day : int, default=0

    Returns
    -------
    float64 array of shape (n,) in (0, 1).
    """
    with np.errstate(over="ignore"):
        x = np.asarray(job, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= np.asarray(worker, dtype=np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        x ^= np.uint64((seed * 1_000_003 + _STAGES[stage] * 7919 + day * 104_729) % 2**63) * np.uint64(
            0x165667B19E3779F9
        )
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):  # splitmix64 finaliser
            x ^= x >> np.uint64(shift)
            x *= np.uint64(mult)
        x ^= x >> np.uint64(31)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(2**53)


def latent_traits(seed: int, W) -> dict[str, np.ndarray]:
    """Each worker's quality, reliability and activity (see the module docstring), shape (n_workers,)."""
    rng = np.random.default_rng([seed, 0x7E1A7])
    n = len(W)
    z = rng.normal(0, 1, n)
    count = np.nan_to_num(W.rating_count.astype(float), nan=0.0)
    q_obs = np.clip((np.nan_to_num(W.rating_avg.astype(float), nan=4.0) - 4.0) / 0.5, -3, 3)
    w = count / (count + 5.0)
    quality = w * q_obs + np.sqrt(1 - w**2) * z
    done = np.nan_to_num(W.jobs_completed.astype(float), nan=0.0)
    noshow = np.nan_to_num(W.no_shows.astype(float), nan=0.0)
    reliability = rng.beta(9.0 + done, 1.2 + 2.0 * noshow)
    activity = rng.normal(0, 1, n)
    return {"quality": quality, "reliability": reliability, "activity": activity}


def _day_index(seconds: np.ndarray, day0_s: float) -> np.ndarray:
    return np.floor((seconds - day0_s) / DAY_S).astype(np.int64)


def _top_k_per_job(job: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Bool mask of each job's ``k`` highest keys (ties by position)."""
    order = np.lexsort((-key, job))
    js = job[order]
    start = np.r_[0, np.flatnonzero(js[1:] != js[:-1]) + 1]
    rank = np.arange(len(js)) - np.repeat(start, np.diff(np.r_[start, len(js)]))
    out = np.zeros(len(job), dtype=bool)
    out[order[rank < k]] = True
    return out


def replay_market(market: Market, scorer, config: ReplayConfig, progress=None) -> ReplayResult:
    """Replay ``config.days`` days of ``market`` under ``config.policy``.

    Parameters
    ----------
    market : Market
        A validated market (workers, jobs, employers; events before the start are the history).
    scorer : Scorer
        Scores pairs (``relevance``) and gives the calibrated P(completed) (``slates``).
    config : ReplayConfig
    progress : callable, optional
        ``(day: int, row: dict) -> None`` after each day.

    Returns
    -------
    ReplayResult

    Raises
    ------
    ValueError
        If the market has no jobs, or the scorer has no calibration (``slates``).
    """
    t0 = time.perf_counter()
    W, J = encode_market(market)
    if len(J) == 0 or len(W) == 0:
        raise ValueError("the market needs at least one job and one worker to replay")
    jobs_tab = market.jobs
    end_s = (
        pd.to_datetime(jobs_tab["end_time"]).to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
        if "end_time" in jobs_tab
        else np.full(len(J), np.nan)
    )
    end_s = np.where(end_s < -9e9, np.nan, end_s)  # NaT
    # a job without posted_at counts as posted OPEN_WITHOUT_START_DAYS before its start; with neither,
    # at the earliest time the market knows of
    posted = np.where(np.isnan(J.posted_s), J.start_s - OPEN_WITHOUT_START_DAYS * DAY_S, J.posted_s)
    known = np.r_[posted[np.isfinite(posted)], J.start_s[np.isfinite(J.start_s)]]
    posted = np.where(np.isnan(posted), known.min() if len(known) else 0.0, posted)
    if config.start is not None:
        day0 = pd.Timestamp(config.start).normalize()
    else:
        day0 = pd.Timestamp(float(np.nanmin(posted)), unit="s").normalize()
    day0_s = day0.value / 1e9
    start = np.where(np.isnan(J.start_s), posted + OPEN_WITHOUT_START_DAYS * DAY_S, J.start_s)
    end = np.where(np.isnan(end_s), start + 9 * 3600.0, np.maximum(end_s, start))
    # work days as replay day indices, clipped to a horizon past the replay (a job running on beyond it
    # keeps its workers busy to the horizon, which no replayed day can see past anyway)
    horizon = int(config.days) + HORIZON_EXTRA_DAYS
    first_day = np.clip(_day_index(start, day0_s), 0, horizon)
    last_day = np.clip(_day_index(end, day0_s), first_day, horizon)

    events = market.events
    before = events[pd.to_datetime(events["ts"]) < day0] if len(events) else events
    H = WorkerHistory(before, W.ids)
    traits = latent_traits(config.seed, W)
    retriever = CandidateRetriever(W)
    busy = np.zeros((len(W), horizon + 1), dtype=bool)  # worker x replay day: committed to a job
    filled = np.zeros(len(J), dtype=np.int64)
    shown_pairs: set[int] = set()
    n_w = len(W)
    shows_total = np.zeros(n_w, dtype=np.int64)
    candidate_ever = np.zeros(n_w, dtype=bool)
    cand_days: list[np.ndarray] = []
    shown_days: list[np.ndarray] = []
    in_play = np.zeros(len(J), dtype=bool)
    apps_per_job = np.zeros(len(J), dtype=np.int64)
    hire_dist: list[np.ndarray] = []
    rows, ev_parts = [], []
    blacklisted = J.employer_blacklisted.astype(bool)
    totals = {"hires": 0, "completions": 0, "no_shows": 0, "applications": 0, "shows": 0, "lw_shows": 0}
    max_gap = 0.0

    for day in range(config.days):
        now = day0_s + day * DAY_S + PLAN_HOUR * 3600.0
        open_ = (posted < now) & (start > now) & (filled < J.headcount) & ~blacklisted
        rows_open = np.flatnonzero(open_)
        in_play[rows_open] = True
        all_w = np.arange(n_w)
        lw_worker = long_waiting_workers(H, W.registered_s, all_w, now, config.long_waiting_days)
        row = {"day": str((day0 + pd.Timedelta(days=day)).date()), "open_jobs": len(rows_open)}
        row["open_slots"] = int((J.headcount[rows_open] - filled[rows_open]).sum())
        chosen_j = chosen_w = np.zeros(0, np.int64)
        day_cand = np.zeros(n_w, dtype=bool)
        gap, method, solves = 0.0, None, 0
        if len(rows_open):
            Jo = J.take(rows_open)
            Jo1 = dataclasses.replace(Jo, headcount=np.ones(len(rows_open), dtype=np.int64))
            lj, pw = retriever.candidates(Jo1, config.max_km, per_slot=config.candidates_per_job)
            pj = rows_open[lj]
            key = pj * n_w + pw
            fresh = ~np.isin(key, np.fromiter(shown_pairs, np.int64, len(shown_pairs)))
            # a worker busy on any of the job's days would not take it: not a candidate
            keep = fresh & ~_busy_on_any_day(busy, pw, first_day[pj], last_day[pj])
            lj, pj, pw = lj[keep], pj[keep], pw[keep]
            batch = build_pairs(Jo, W, lj, pw, history=H, asof_s=now, max_km=config.max_km)
            el = batch.eligible
            lj, pj, pw = lj[el], pj[el], pw[el]
            X = batch.X[el]
            d_km = batch.distance_km[el]
            day_cand[pw] = True
            if len(pj):
                k = config.slate_size
                if config.policy == "random":
                    pick = _top_k_per_job(pj, pair_uniform(config.seed, pj, pw, "random", day), k)
                elif config.policy == "relevance":
                    pick = _top_k_per_job(pj, scorer.score(X), k)
                else:
                    held = held_offers(H, all_w, now, config.window_hours)
                    p = p_match(scorer, X)  # discounted for offers held: the API's probability model
                    p = np.round(p * exposure_discount(p, held[pw]), 6)
                    plan = plan_slates(
                        lj,
                        pw,
                        p,
                        len(rows_open),
                        n_w,
                        slate_size=k,
                        max_per_worker=config.max_per_worker,
                        held=held,
                        long_waiting=lw_worker,
                        long_waiting_share=config.long_waiting_share,
                    )
                    pick, gap = plan.chosen, plan.gap
                    method, solves = plan.method, plan.solves
                chosen_j, chosen_w = pj[pick], pw[pick]
                Xs, ds = X[pick], d_km[pick]
        cand_days.append(day_cand)
        candidate_ever |= day_cand
        shown_today = np.bincount(chosen_w, minlength=n_w)
        shows_total += shown_today
        shown_days.append(shown_today > 0)
        shown_pairs.update((chosen_j * n_w + chosen_w).tolist())
        lw_shows = int(lw_worker[chosen_w].sum())
        totals["shows"] += len(chosen_j)
        totals["lw_shows"] += lw_shows
        max_gap = max(max_gap, gap)

        applied = hired_mask = completed = np.zeros(len(chosen_j), dtype=bool)
        if len(chosen_j):
            applied, hired_mask, completed, declined = _behave(
                config.seed,
                day,
                chosen_j,
                chosen_w,
                Xs,
                ds,
                W,
                J,
                traits,
                filled,
                first_day,
                last_day,
                busy,
                horizon,
            )
            apps_per_job += np.bincount(chosen_j[applied], minlength=len(J))
            np.add.at(filled, chosen_j[hired_mask], 1)
            hire_dist.append(ds[hired_mask])
            ev_parts.append(
                _events(now, chosen_j, chosen_w, applied, declined, hired_mask, completed, start, end, J, W)
            )
            H = H.extended(ev_parts[-1])  # point-in-time: a completion dated later counts from then on
        # exposure over the last 7 days
        recent_cand = np.logical_or.reduce(cand_days[-ACTIVE_WINDOW_DAYS:])
        recent_shown = np.logical_or.reduce(shown_days[-ACTIVE_WINDOW_DAYS:])
        n_active = int(recent_cand.sum())
        shown_jobs = np.unique(chosen_j)
        no_app = np.bincount(chosen_j[applied], minlength=len(J))[shown_jobs] == 0 if len(shown_jobs) else []
        row.update(
            {
                "candidates": int(day_cand.sum()),
                "shows": len(chosen_j),
                "applications": int(applied.sum()),
                "hires": int(hired_mask.sum()),
                "completions": int(completed.sum()),
                "no_shows": int((hired_mask & ~completed).sum()),
                "mean_distance_km": round(float(ds[hired_mask].mean()), 3) if hired_mask.any() else None,
                "exposure_gini": round(gini(shown_today[day_cand | (shown_today > 0)]), 4),
                "share_active_never_shown_7d": round(float((recent_cand & ~recent_shown).sum()) / n_active, 4)
                if n_active
                else 0.0,
                "share_shows_long_waiting": round(lw_shows / len(chosen_j), 4) if len(chosen_j) else 0.0,
                "share_shown_jobs_no_application": round(float(np.mean(no_app)), 4)
                if len(shown_jobs)
                else 0.0,
                "plan_gap": round(gap, 6),
                "plan_method": method,
                "plan_solves": solves,
            }
        )
        for k_ in ("hires", "completions", "no_shows", "applications"):
            totals[k_] += row[k_]
        rows.append(row)
        if progress is not None:
            progress(day, row)

    days = pd.DataFrame(rows, columns=list(DAY_COLUMNS))
    events_out = (
        pd.concat(ev_parts, ignore_index=True)
        if ev_parts
        else pd.DataFrame(columns=["ts", "job_id", "worker_id", "event", "event_id"])
    )
    summary = summarise(
        config,
        days,
        totals,
        J.headcount,
        filled,
        in_play,
        apps_per_job,
        hire_dist,
        shows_total,
        candidate_ever,
        max_gap,
    )
    summary["model_version"] = scorer.version
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return ReplayResult(days, summary, events_out)


def _busy_on_any_day(busy: np.ndarray, worker: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Whether each worker is committed on any day ``first..last`` (replay day indices), shape (n,)."""
    last = np.minimum(last, busy.shape[1] - 1)
    out = np.zeros(len(worker), dtype=bool)
    for k in range(int((last - first).max(initial=-1)) + 1):
        m = first + k <= last
        out[m] |= busy[worker[m], first[m] + k]
    return out


def _behave(seed, day, pj, pw, X, d, W, J, traits, filled, first_day, last_day, busy, horizon):
    """Apply, screen, hire (offer rounds) and complete for the day's shows; marks ``busy``."""
    exact = column(X, "trade_exact")
    rel = column(X, "trade_related_credit")
    pref = np.nan_to_num(column(X, "preferred_trade"), nan=0.0)
    travel = W.max_travel_km[pw]
    wage_ratio = np.log(np.clip(np.nan_to_num(column(X, "wage_vs_min"), nan=1.0), 1e-3, None))
    emp = column(X, "employer_rating_shrunk")
    utility = (
        -1.0
        + 1.6 * exact
        + 0.8 * rel
        + 0.7 * pref
        - 0.15 * d
        - 0.6 * np.maximum(0, d - travel)
        + 2.0 * wage_ratio
        + 0.4 * (emp - 4)
        + 0.8 * traits["activity"][pw]
    )
    z1 = ndtri(pair_uniform(seed, pj, pw, "z1"))
    applied = pair_uniform(seed, pj, pw, "apply") < expit(utility + 0.5 * z1)
    declined = ~applied & (pair_uniform(seed, pj, pw, "decline") < 0.5)
    p_hire = expit(
        -0.3
        + 1.2 * exact
        + 0.5 * rel
        + 0.08 * np.minimum(column(X, "trade_years"), 10)
        + 0.9 * traits["quality"][pw]
    )
    screened = applied & (pair_uniform(seed, pj, pw, "screen") < p_hire)
    hired = np.zeros(len(pj), dtype=bool)
    refused = np.zeros(len(pj), dtype=bool)
    took_today = np.zeros(len(W), dtype=bool)
    open_slots = (J.headcount - filled).astype(np.int64)
    cand = np.flatnonzero(screened)
    for _ in range(OFFER_ROUNDS):
        live = cand[~hired[cand] & ~refused[cand]]
        if not len(live):
            break
        slots_now = open_slots[pj[live]] - np.bincount(pj[hired], minlength=len(J))[pj[live]]
        order = np.lexsort((-p_hire[live], pj[live]))
        lj = pj[live][order]
        s0 = np.r_[0, np.flatnonzero(lj[1:] != lj[:-1]) + 1]
        rank = np.arange(len(lj)) - np.repeat(s0, np.diff(np.r_[s0, len(lj)]))
        offers = live[order][rank < slots_now[order]]
        if not len(offers):
            break
        # each worker takes the best offer, if free that day and on every day of the job
        ow = pw[offers]
        ok = ~_busy_on_any_day(busy, ow, first_day[pj[offers]], last_day[pj[offers]]) & ~took_today[ow]
        refused[offers[~ok]] = True
        offers = offers[ok]
        if not len(offers):
            continue  # every offer this round was refused: the next round offers the next applicants
        order = np.lexsort((-utility[offers], pw[offers]))
        o = offers[order]
        first = np.r_[True, pw[o][1:] != pw[o][:-1]]
        take = o[first]
        refused[o[~first]] = True
        hired[take] = True
        took_today[pw[take]] = True
        first_t, last_t = first_day[pj[take]], np.minimum(last_day[pj[take]], busy.shape[1] - 1)
        for k in range(int((last_t - first_t).max(initial=-1)) + 1):  # every day of each job taken
            m = first_t + k <= last_t
            busy[pw[take][m], first_t[m] + k] = True
    p_complete = traits["reliability"][pw] * np.exp(-d / 150.0)
    completed = hired & (pair_uniform(seed, pj, pw, "complete") < p_complete)
    return applied, hired, completed, declined


def _events(now, pj, pw, applied, declined, hired, completed, start, end, J, W) -> pd.DataFrame:
    ts_show = pd.Timestamp(now, unit="s")
    parts = [
        (np.ones(len(pj), bool), ts_show, "shown"),
        (applied, ts_show + pd.Timedelta(hours=2), "applied"),
        (declined, ts_show + pd.Timedelta(hours=2), "declined"),
        (hired, ts_show + pd.Timedelta(hours=6), "hired"),
    ]
    frames = []
    for mask, ts, name in parts:
        if mask.any():
            frames.append(
                pd.DataFrame(
                    {"ts": ts, "job_id": J.ids[pj[mask]], "worker_id": W.ids[pw[mask]], "event": name}
                )
            )
    for mask, when, name in ((completed, end, "completed"), (hired & ~completed, start, "no_show")):
        if mask.any():
            frames.append(
                pd.DataFrame(
                    {
                        "ts": pd.to_datetime(when[pj[mask]], unit="s"),
                        "job_id": J.ids[pj[mask]],
                        "worker_id": W.ids[pw[mask]],
                        "event": name,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out["ts"] = pd.to_datetime(out["ts"])
    out["rating"] = np.nan
    out["event_id"] = "replay|" + out["job_id"] + "|" + out["worker_id"] + "|" + out["event"]
    return out


def summarise(
    config,
    days,
    totals,
    headcount,
    filled,
    in_play,
    apps_per_job,
    hire_dist,
    shows_total,
    candidate_ever,
    max_gap,
) -> dict:
    """Totals of a replay (see the module docstring); ``days`` is the per-day table."""
    slots = int(headcount[in_play].sum())
    got = int(np.minimum(filled, headcount)[in_play].sum())
    dist = np.concatenate(hire_dist) if hire_dist else np.zeros(0)
    exposure = exposure_figures(shows_total, candidate_ever)
    return {
        "policy": config.policy,
        "config": dataclasses.asdict(config),
        "days": len(days),
        "jobs": int(in_play.sum()),
        "slots": slots,
        "filled": got,
        "fill_rate": round(got / slots, 4) if slots else 0.0,
        "hires": totals["hires"],
        "completions": totals["completions"],
        "no_shows": totals["no_shows"],
        "completions_per_slot": round(totals["completions"] / slots, 4) if slots else 0.0,
        "mean_distance_km": round(float(dist.mean()), 3) if len(dist) else None,
        "shows": totals["shows"],
        "applications": totals["applications"],
        "applications_per_job": round(float(apps_per_job[in_play].mean()), 3) if in_play.any() else 0.0,
        "share_jobs_no_application": round(float((apps_per_job[in_play] == 0).mean()), 4)
        if in_play.any()
        else 0.0,
        "exposure_gini": exposure["exposure_gini"],
        "workers_ever_candidate": exposure["candidates"],
        "workers_ever_shown": exposure["workers_shown"],
        "share_active_never_shown_7d": round(float(days["share_active_never_shown_7d"].mean()), 4)
        if len(days)
        else 0.0,
        "share_shows_long_waiting": round(totals["lw_shows"] / totals["shows"], 4)
        if totals["shows"]
        else 0.0,
        "max_plan_gap": round(max_gap, 6),
    }


def write_replay(result: ReplayResult, out: str | Path) -> Path:
    """Write ``days.csv``, ``summary.json`` and ``events.csv`` (the replay's log) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.days.to_csv(out / "days.csv", index=False)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=1, ensure_ascii=False, default=str))
    ev = result.events.copy()
    if len(ev):
        ev["ts"] = pd.to_datetime(ev["ts"]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    ev.to_csv(out / "events.csv", index=False)
    return out
