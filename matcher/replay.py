"""Replaying a market's job stream through dispatch policies, side by side (``gigmatch dispatch``).

Jobs arrive at their ``posted_at`` in posting order. Workers answer by a seeded
:class:`matcher.dispatch.AnswerModel`, drawn once per (job, worker) pair, so every policy meets the
same workers giving the same answers:

- **grab order** (the mini-programs' 抢单): every qualified worker who would take the job tries to grab
  it after their response delay; the first ``headcount`` still free when they try get it.
- **windows of W s**: :class:`matcher.dispatch.Dispatcher`; offers expire after ``offer_ttl_s``.
- **hindsight**: every job of the stream at once, knowing who would accept: the exact optimum over
  willing workers (:func:`matcher.shifts.solve_shifts`), the bound no online policy can beat (up to
  the time limit's reported gap).

Qualified means what it means everywhere: eligible (hard constraints), inside the worker's hours and
daily cap, not busy with an overlapping job (with the gap), within ``max_km``, and among each job's
candidates (:class:`matcher.retrieval.CandidateRetriever`).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from features.encode import JobTable, WorkerTable, encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from gigmatch.core.contract import Market
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.core.hours import WeeklyHours
from matcher.dispatch import DEFAULT_OFFER_TTL_S, AnswerModel, Dispatcher, _take_shifts
from matcher.retrieval import CandidateRetriever
from matcher.shifts import (
    DEFAULT_GAP_MINUTES,
    SECONDS_PER_DAY,
    day_hours_of,
    job_shifts,
    solve_shifts,
    time_flags,
)


@dataclass
class Stream:
    """A market prepared for replay: its workers, the jobs of the stream in posting order, their shifts,
    and every job's qualified candidate pairs scored at its posting time.

    Attributes
    ----------
    W : WorkerTable
    J : JobTable
        The stream's jobs, in posting order.
    H : WorkerHistory
    hours : WeeklyHours
    caps : float array of shape (n_workers,)
    shifts : tuple of arrays
        ``(shift_ptr, shift_start, shift_end)`` of ``J``.
    posted_s : float array of shape (n_jobs,)
    day0_s : float
    n_days : int
    pj, pw : int arrays of shape (n_pairs,)
        Qualified pairs at posting time (eligible, inside hours and caps).
    score, distance_km : float arrays of shape (n_pairs,)
    """

    W: WorkerTable
    J: JobTable
    H: WorkerHistory
    hours: WeeklyHours
    caps: np.ndarray
    shifts: tuple
    posted_s: np.ndarray
    day0_s: float
    n_days: int
    pj: np.ndarray
    pw: np.ndarray
    score: np.ndarray
    distance_km: np.ndarray


def prepare_stream(
    market: Market,
    scorer,
    *,
    first_day: str | None = None,
    days: int | None = None,
    max_km: float = DEFAULT_MAX_KM,
    candidates_per_slot: int = CANDIDATES_PER_SLOT,
) -> Stream:
    """The jobs posted in ``days`` days from ``first_day`` (default: the whole log) with their candidates.

    Jobs without ``posted_at`` are not in the stream (they never arrive).
    """
    posted_all = market.jobs["posted_at"].to_numpy(dtype="datetime64[ns]")
    ok = ~np.isnat(posted_all)
    posted_all_s = np.where(ok, posted_all.astype("int64") / 1e9, np.nan)
    lo = np.nanmin(posted_all_s) if first_day is None else _day_s(first_day)
    lo = np.floor(lo / SECONDS_PER_DAY) * SECONDS_PER_DAY
    hi = np.inf if days is None else lo + days * SECONDS_PER_DAY
    rows = np.flatnonzero(ok & (posted_all_s >= lo) & (posted_all_s < hi))
    rows = rows[np.argsort(posted_all_s[rows], kind="stable")]
    W, J_all = encode_market(market)
    J = J_all.take(rows)
    shifts_all = job_shifts(market.jobs, lo)
    shifts = _take_shifts(shifts_all, rows)
    ptr, s, e = shifts
    n_days = int(max(1, np.ceil((e.max() - lo) / SECONDS_PER_DAY))) if len(e) else 1
    H = WorkerHistory(market.events, W.ids)
    hours = WeeklyHours.from_cells(list(market.workers["available_hours"]))
    caps = market.workers["max_hours_per_day"].to_numpy(dtype=np.float64)
    posted_s = posted_all_s[rows]
    pj, pw = CandidateRetriever(W).candidates(J, max_km, per_slot=candidates_per_slot)
    batch = build_pairs(J, W, pj, pw, history=H, asof_s=posted_s[pj], max_km=max_km)
    batch = time_flags(batch, pj, pw, hours, shifts, day_hours_of(shifts, lo, n_days), caps)
    keep = np.flatnonzero(batch.eligible)
    score = scorer.match_weight(batch.X[keep]) if len(keep) else np.zeros(0)
    return Stream(
        W, J, H, hours, caps, shifts, posted_s, lo, n_days, pj[keep], pw[keep], score, batch.distance_km[keep]
    )


def _day_s(text: str) -> float:
    return float(np.datetime64(text, "D").astype("datetime64[s]").astype("int64"))


def _metrics(policy: str, stream: Stream, filled_job, score, distance, fill_s, extra: dict) -> dict:
    slots = int(stream.J.headcount.sum())
    n = len(filled_job)
    fill_s = np.asarray(fill_s, dtype=np.float64)
    return {
        "policy": policy,
        "slots": slots,
        "filled": n,
        "fill_rate": round(n / slots, 4) if slots else 0.0,
        "total_score": round(float(np.sum(score)), 3),
        "mean_distance_km": round(float(np.mean(distance)), 3) if n else None,
        "median_time_to_fill_s": round(float(np.median(fill_s)), 1) if len(fill_s) else None,
        "mean_time_to_fill_s": round(float(np.mean(fill_s)), 1) if len(fill_s) else None,
        **extra,
    }


def _overlaps(shifts, a: int, b: int, gap_s: float) -> bool:
    ptr, s, e = shifts
    sa, ea, sb, eb = (
        s[ptr[a] : ptr[a + 1]],
        e[ptr[a] : ptr[a + 1]],
        s[ptr[b] : ptr[b + 1]],
        e[ptr[b] : ptr[b + 1]],
    )
    return bool(((sa[:, None] < eb[None, :] + gap_s) & (sb[None, :] < ea[:, None] + gap_s)).any())


def replay_grab(stream: Stream, answers: AnswerModel, *, gap_minutes: float = DEFAULT_GAP_MINUTES) -> dict:
    """Grab order: each willing qualified worker tries to grab the job after their delay; first come."""
    gap_s = gap_minutes * 60.0
    ptr, s, _ = stream.shifts
    job_start = s[ptr[:-1]]
    willing = answers.would_accept(stream.pj, stream.pw, stream.score)
    delay = answers.delay_s(stream.pj, stream.pw)
    t = stream.posted_s[stream.pj] + delay
    order = np.flatnonzero(willing)
    order = order[np.argsort(t[order], kind="stable")]
    day_hours = day_hours_of(stream.shifts, stream.day0_s, stream.n_days)
    held: dict[int, list[int]] = {}
    hours_held = np.zeros((len(stream.W), stream.n_days))
    left = stream.J.headcount.copy()
    got = []
    for k in order:
        j, w = int(stream.pj[k]), int(stream.pw[k])
        if left[j] == 0 or t[k] >= job_start[j]:
            continue
        if any(_overlaps(stream.shifts, j, h, gap_s) for h in held.get(w, [])):
            continue  # busy with another job
        if np.isfinite(stream.caps[w]) and (hours_held[w] + day_hours[j] > stream.caps[w] + 1e-9).any():
            continue
        left[j] -= 1
        held.setdefault(w, []).append(j)
        hours_held[w] += day_hours[j]
        got.append(k)
    got = np.array(got, dtype=np.int64)
    fill_s = t[got] - stream.posted_s[stream.pj[got]]
    return _metrics(
        "grab order",
        stream,
        stream.pj[got],
        stream.score[got],
        stream.distance_km[got],
        fill_s,
        {"offers": None},
    )


def replay_windows(
    stream: Stream,
    scorer,
    answers: AnswerModel,
    *,
    window_s: float,
    offer_ttl_s: float = DEFAULT_OFFER_TTL_S,
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    max_km: float = DEFAULT_MAX_KM,
    keep_problems: bool = False,
) -> tuple[dict, Dispatcher]:
    """Windows of ``window_s``: the :class:`Dispatcher` run over the stream with answers from ``answers``.

    Returns the metrics and the dispatcher (its ``windows`` log each window's exactness).
    """
    d = Dispatcher(
        stream.W,
        stream.hours,
        stream.caps,
        stream.H,
        stream.J,
        stream.shifts,
        scorer,
        window_s=window_s,
        offer_ttl_s=offer_ttl_s,
        gap_minutes=gap_minutes,
        day0_s=stream.day0_s,
        n_days=stream.n_days,
        max_km=max_km,
        keep_problems=keep_problems,
    )
    events: list = []  # (time, order, seq, kind, payload); answers before arrivals before closes at a tie
    seq = 0

    def push(t, order, kind, payload):
        nonlocal seq
        heapq.heappush(events, (t, order, seq, kind, payload))
        seq += 1

    for j, t in enumerate(stream.posted_s):
        push(t, 1, "arrive", j)
    scheduled_close = None
    fills, scores, dists, fill_s = [], [], [], []
    n_offers = declined = lapsed = 0
    while events:
        t, _, _, kind, payload = heapq.heappop(events)
        lapsed += len(d.expire(t))
        if kind == "arrive":
            d.submit(payload, t)
        elif kind == "answer":
            offer, accept = payload
            if d.answer(offer.offer_id, accept, t):
                fills.append(offer.job)
                scores.append(offer.score)
                dists.append(offer.distance_km)
                fill_s.append(t - stream.posted_s[offer.job])
            elif offer.offer_id not in d.offers:
                declined += 1
        elif kind == "close" and payload == d.next_close_s():
            offers = d.close_window(t)
            n_offers += len(offers)
            if offers:
                oj = np.array([o.job for o in offers])
                ow = np.array([o.worker for o in offers])
                osc = np.array([o.score for o in offers])
                yes = answers.would_accept(oj, ow, osc)
                delay = answers.delay_s(oj, ow)
                for o, y, dl in zip(offers, yes, delay, strict=True):
                    if dl < offer_ttl_s:
                        push(t + dl, 0, "answer", (o, bool(y)))
                    else:
                        push(o.expires_s, 0, "expire", None)
        nxt = d.next_close_s()
        if nxt is not None and nxt != scheduled_close:
            scheduled_close = nxt
            push(max(nxt, t), 2, "close", nxt)
    gaps = [w.optimality_gap for w in d.windows]
    extra = {
        "offers": n_offers,
        "declined": declined,
        "expired": lapsed,
        "windows": len(d.windows),
        "windows_not_proven_optimal": int(sum(g > 0 for g in gaps)),
        "max_window_solve_s": round(max((w.seconds for w in d.windows), default=0.0), 3),
    }
    return _metrics(f"windows {window_s:g} s", stream, fills, scores, dists, fill_s, extra), d


def hindsight(
    stream: Stream, answers: AnswerModel, *, gap_minutes: float = DEFAULT_GAP_MINUTES, time_limit_s=60.0
):
    """The whole stream solved at once over the pairs that would accept: the offline optimum."""
    t0 = time.perf_counter()
    willing = np.flatnonzero(answers.would_accept(stream.pj, stream.pw, stream.score))
    sol = solve_shifts(
        stream.pj[willing],
        stream.pw[willing],
        stream.score[willing],
        stream.J.headcount,
        len(stream.W),
        stream.shifts,
        gap_s=gap_minutes * 60.0,
        day_hours=day_hours_of(stream.shifts, stream.day0_s, stream.n_days),
        max_hours_per_day=stream.caps,
        time_limit_s=time_limit_s,
    )
    k = willing[sol.chosen]
    extra = {
        "offers": None,
        "method": sol.method,
        "optimality_gap": round(sol.optimality_gap, 9),
        "solve_s": round(time.perf_counter() - t0, 3),
    }
    return _metrics(
        "hindsight optimum", stream, stream.pj[k], stream.score[k], stream.distance_km[k], [], extra
    )
