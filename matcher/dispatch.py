"""Real-time dispatch: jobs arrive over time, are gathered in windows, and each window is solved exactly.

:class:`Dispatcher` keeps the workers' commitments (accepted jobs and offers still open) and, when a
window of ``window_s`` seconds closes, solves the jobs waiting in it against the workers free at that
moment with :func:`matcher.shifts.solve_shifts` (exact: a flow when time is slack, else the MIP with a
proven gap): a worker is never offered a job overlapping one they hold (``busy_with_other_job``, with
the gap), outside their hours, or beyond what is left of their daily cap (``hours_do_not_fit``). An
offer is a hold: it expires after ``offer_ttl_s`` unless answered; a declined or expired offer frees
the slot, the worker is not asked for that job again, and the next window offers it to the next best
worker. This is the batched matching DiDi (KDD'18) and Uber run on windows of a few seconds.

:func:`replay` runs a market's job stream in posting order through a dispatch policy with a seeded
model of how workers answer, and :func:`hindsight` solves the whole stream at once, knowing every
answer: the upper bound any policy is compared with (``gigmatch dispatch``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.eligibility import Reason, first_reason, flag
from features.encode import JobTable, WorkerTable
from features.history import WorkerHistory
from features.pairs import PairBatch, build_pairs
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.core.hours import WeeklyHours
from matcher.objectives import DEFAULT_OBJECTIVE
from matcher.retrieval import CandidateRetriever
from matcher.shifts import (
    DEFAULT_GAP_MINUTES,
    day_hours_of,
    solve_shifts,
    time_flags,
)

DEFAULT_WINDOW_S = 10.0
DEFAULT_OFFER_TTL_S = 300.0
WINDOW_TIME_LIMIT_S = 5.0  # one window's MIP; a window that hits it reports its proven gap


@dataclass(frozen=True)
class Offer:
    """One offer of one job's slot to one worker.

    Attributes
    ----------
    offer_id : str
        ``job_id|worker_id``: unique, since a worker is never asked twice for the same job.
    job : int
        Row of the job in the dispatcher's job table.
    worker : int
        Row of the worker in the dispatcher's worker table.
    job_id, worker_id : str
    offered_s, expires_s : float
        Market seconds since the epoch: when the window closed, and when the offer lapses unanswered.
    score : float
        The scorer's match weight.
    distance_km : float
    window : int
        Sequence number of the window that made it.
    """

    offer_id: str
    job: int
    worker: int
    job_id: str
    worker_id: str
    offered_s: float
    expires_s: float
    score: float
    distance_km: float
    window: int

    def as_record(self) -> dict:
        """A JSON-ready record (times as ISO market time)."""
        fmt = lambda s: pd.Timestamp(s * 1e9).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
        return {
            "offer_id": self.offer_id,
            "job_id": self.job_id,
            "worker_id": self.worker_id,
            "offered_at": fmt(self.offered_s),
            "expires_at": fmt(self.expires_s),
            "score": round(self.score, 6),
            "distance_km": round(self.distance_km, 3),
            "window": self.window,
        }


@dataclass
class WindowLog:
    """One solved window: what it saw and how exact its answer is.

    Attributes
    ----------
    window : int
    closed_s : float
    jobs, open_slots, edges, offers : int
    method : str
        ``flow`` or ``mip`` (:class:`matcher.shifts.ShiftSolution`).
    objective_value, bound, optimality_gap : float
    seconds : float
        Solve time.
    problem : dict
        The window's problem as solved (``pj``, ``pw``, ``weight``, ``headcount``, ``caps_left``), kept
        when ``keep_problems`` is on, so tests can re-solve it independently.
    """

    window: int
    closed_s: float
    jobs: int
    open_slots: int
    edges: int
    offers: int
    method: str
    objective_value: float
    bound: float
    optimality_gap: float
    seconds: float
    problem: dict = field(default_factory=dict)


class Dispatcher:
    """Windowed exact dispatch over a fixed worker table.

    Parameters
    ----------
    workers : WorkerTable
    hours : WeeklyHours
        The workers' weekly hours (aligned with ``workers``).
    max_hours_per_day : float array of shape (n_workers,)
        Daily caps, hours; NaN for none.
    history : WorkerHistory
        For the features.
    jobs : JobTable
        Every job that may arrive (rows are referred to by index).
    shifts : tuple of arrays
        The jobs' shifts, ``(shift_ptr, shift_start, shift_end)`` (:func:`matcher.shifts.job_shifts`).
    scorer : object
        ``match_weight(X)`` and ``version``.
    window_s, offer_ttl_s : float
        Window length and offer lifetime, seconds.
    gap_minutes : float
        Minimum time between two jobs of one worker.
    day0_s : float
        Midnight of the first calendar day caps are counted on; ``n_days`` days from it.
    retriever : CandidateRetriever, optional
        Built over ``workers`` (the service keeps one per snapshot); built here when not given.
    """

    def __init__(
        self,
        workers: WorkerTable,
        hours: WeeklyHours,
        max_hours_per_day: np.ndarray,
        history: WorkerHistory,
        jobs: JobTable,
        shifts: tuple[np.ndarray, np.ndarray, np.ndarray],
        scorer,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        offer_ttl_s: float = DEFAULT_OFFER_TTL_S,
        gap_minutes: float = DEFAULT_GAP_MINUTES,
        day0_s: float,
        n_days: int,
        max_km: float = DEFAULT_MAX_KM,
        objective: str = DEFAULT_OBJECTIVE,
        candidates_per_slot: int = CANDIDATES_PER_SLOT,
        time_limit_s: float = WINDOW_TIME_LIMIT_S,
        keep_problems: bool = False,
        retriever: CandidateRetriever | None = None,
    ):
        if not (window_s > 0 and offer_ttl_s > 0):
            raise ValueError("window_s and offer_ttl_s must be positive")
        self.W, self.J, self.H, self.scorer = workers, jobs, history, scorer
        self.hours, self.caps = hours, np.asarray(max_hours_per_day, dtype=np.float64)
        self.shifts = shifts
        self.window_s, self.offer_ttl_s, self.gap_s = float(window_s), float(offer_ttl_s), gap_minutes * 60.0
        self.max_km, self.objective, self.per_slot = max_km, objective, candidates_per_slot
        self.time_limit_s, self.keep_problems = time_limit_s, keep_problems
        self.day0, self.n_days = day0_s, n_days
        self.day_hours = day_hours_of(shifts, day0_s, n_days)
        ptr, s, _ = shifts
        self.job_start = s[ptr[:-1]]
        self.retriever = retriever if retriever is not None else CandidateRetriever(workers)
        self.open_slots = np.zeros(len(jobs), dtype=np.int64)  # arrived, neither filled nor on offer
        self.filled = np.zeros(len(jobs), dtype=np.int64)
        self.arrived_s = np.full(len(jobs), np.nan)
        self.hours_held = np.zeros((len(workers), n_days))  # hours of held jobs per worker and day
        self.held: dict[int, list[int]] = {}  # worker -> jobs accepted or on offer
        self.asked: set[tuple[int, int]] = set()  # (job, worker) already offered: never again
        self.offers: dict[str, Offer] = {}  # open offers by id
        self.windows: list[WindowLog] = []
        self.window_open_s: float | None = None  # when the current window started gathering

    # ---- arrivals and answers --------------------------------------------------------------------

    def submit(self, job: int, now_s: float) -> None:
        """Job ``job`` arrives (posted) at ``now_s``; it waits for the window that closes next."""
        if np.isnan(self.arrived_s[job]):
            self.arrived_s[job] = now_s
            self.open_slots[job] = self.J.headcount[job] - self.filled[job]
            if self.window_open_s is None:
                self.window_open_s = now_s

    def next_close_s(self) -> float | None:
        """When the current window closes (its first arrival + ``window_s``); None when nothing waits."""
        return None if self.window_open_s is None else self.window_open_s + self.window_s

    def answer(self, offer_id: str, accept: bool, now_s: float) -> bool:
        """The worker's answer to an open offer; returns False for an unknown or lapsed offer."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return False
        if accept and now_s <= offer.expires_s:
            self.filled[offer.job] += 1
            return True
        self._release(offer, now_s)
        return False

    def expire(self, now_s: float) -> list[Offer]:
        """Offers unanswered at ``now_s`` lapse; their slots wait for the next window."""
        lapsed = [o for o in self.offers.values() if o.expires_s <= now_s]
        for o in lapsed:
            del self.offers[o.offer_id]
            self._release(o, now_s)
        return lapsed

    def _release(self, offer: Offer, now_s: float) -> None:
        self.held[offer.worker].remove(offer.job)
        self.hours_held[offer.worker] -= self.day_hours[offer.job]
        if self.job_start[offer.job] > now_s:  # a job that has started is not offered again
            self.open_slots[offer.job] += 1
            if self.window_open_s is None:
                self.window_open_s = now_s

    # ---- windows ---------------------------------------------------------------------------------

    def close_window(self, now_s: float) -> list[Offer]:
        """Solve the waiting jobs against the workers free at ``now_s``; returns the new offers."""
        self.window_open_s = None
        self.open_slots[self.job_start <= now_s] = 0  # too late for jobs that have started
        rows = np.flatnonzero(self.open_slots > 0)
        if len(rows) == 0:
            return []
        t0 = time.perf_counter()
        J = self.J.take(rows)
        J.headcount = self.open_slots[rows].copy()
        pj, pw = self.retriever.candidates(J, self.max_km, per_slot=self.per_slot)
        batch = build_pairs(J, self.W, pj, pw, history=self.H, asof_s=now_s, max_km=self.max_km)
        sub_shifts = _take_shifts(self.shifts, rows)
        sub_hours = self.day_hours[rows]
        batch = time_flags(batch, pj, pw, self.hours, sub_shifts, sub_hours, self.caps)
        batch = self._busy_flags(batch, rows[pj], pw)
        asked = np.fromiter(
            ((int(j), int(w)) in self.asked for j, w in zip(rows[pj], pw, strict=True)), bool, len(pj)
        )
        usable = batch.eligible & ~asked
        e = np.flatnonzero(usable)
        weight = np.zeros(len(pj))
        if len(e):
            weight[e] = self.scorer.match_weight(batch.X[e])
        caps_left = self.caps[:, None] - self.hours_held  # NaN caps stay NaN: no cap
        sol = solve_shifts(
            pj[e],
            pw[e],
            weight[e],
            J.headcount,
            len(self.W),
            sub_shifts,
            gap_s=self.gap_s,
            day_hours=sub_hours,
            max_hours_per_day=caps_left,
            objective=self.objective,
            time_limit_s=self.time_limit_s,
        )
        seq = len(self.windows)
        offers = []
        for k in e[sol.chosen]:
            j, w = int(rows[pj[k]]), int(pw[k])
            o = Offer(
                offer_id=f"{self.J.ids[j]}|{self.W.ids[w]}",
                job=j,
                worker=w,
                job_id=str(self.J.ids[j]),
                worker_id=str(self.W.ids[w]),
                offered_s=now_s,
                expires_s=now_s + self.offer_ttl_s,
                score=float(weight[k]),
                distance_km=float(batch.distance_km[k]),
                window=seq,
            )
            offers.append(o)
            self.offers[o.offer_id] = o
            self.asked.add((j, w))
            self.held.setdefault(w, []).append(j)
            self.hours_held[w] += self.day_hours[j]
            self.open_slots[j] -= 1
        problem = {}
        if self.keep_problems:
            problem = {
                "pj": pj[e],
                "pw": pw[e],
                "weight": weight[e],
                "headcount": J.headcount.copy(),
                "shifts": sub_shifts,
                "day_hours": sub_hours,
                "caps_left": caps_left,
            }
        self.windows.append(
            WindowLog(
                seq,
                now_s,
                len(rows),
                int(J.headcount.sum()),
                len(e),
                len(offers),
                sol.method,
                sol.objective_value,
                sol.bound,
                sol.optimality_gap,
                time.perf_counter() - t0,
                problem,
            )
        )
        return offers

    def _busy_flags(self, batch: PairBatch, jobs: np.ndarray, pw: np.ndarray) -> PairBatch:
        """``busy_with_other_job`` for pairs whose worker holds a job overlapping this one (with the gap)."""
        busy = np.zeros(len(pw), dtype=bool)
        ptr, s, e = self.shifts
        for i in np.flatnonzero(np.isin(pw, np.fromiter(self.held, np.int64, len(self.held)))):
            for k in self.held[int(pw[i])]:
                a, b = int(jobs[i]), k
                sa, ea, sb, eb = (
                    s[ptr[a] : ptr[a + 1]],
                    e[ptr[a] : ptr[a + 1]],
                    s[ptr[b] : ptr[b + 1]],
                    e[ptr[b] : ptr[b + 1]],
                )
                if (
                    (sa[:, None] < eb[None, :] + self.gap_s) & (sb[None, :] < ea[:, None] + self.gap_s)
                ).any():
                    busy[i] = True
                    break
        flags = batch.flags | np.where(busy, flag(Reason.BUSY_WITH_OTHER_JOB), 0).astype(np.int16)
        return PairBatch(
            batch.X,
            batch.distance_km,
            first_reason(flags).astype(batch.reason.dtype),
            flags,
            batch.missing_cert,
        )


def _take_shifts(shifts, rows: np.ndarray):
    """The shifts of jobs ``rows``, as a shift table of their own."""
    ptr, s, e = shifts
    counts = (ptr[1:] - ptr[:-1])[rows]
    k = np.repeat(ptr[rows], counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    return np.r_[0, np.cumsum(counts)].astype(np.int64), s[k], e[k]


# ---- replay: a seeded model of answers, the policies side by side ---------------------------------------


def _uniform(job: np.ndarray, worker: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """A reproducible uniform in [0, 1) per (job, worker) pair (splitmix64 of the pair): every policy sees
    the same worker answer the same job the same way."""
    x = (job.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
        worker.astype(np.uint64) + np.uint64(seed * 1_000_003 + salt)
    )
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class AnswerModel:
    """How a worker answers a job, drawn once per pair from ``seed`` (same answer under every policy).

    A worker would take job ``j`` with probability ``clip(accept_scale * score, 0.05, 0.95)`` and answers
    (or grabs it, in grab order) after an exponential delay of mean ``mean_delay_s``.
    """

    seed: int = 0
    accept_scale: float = 1.0
    mean_delay_s: float = 120.0

    def would_accept(self, job: np.ndarray, worker: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Bool per pair: this worker takes this job when asked."""
        p = np.clip(self.accept_scale * np.asarray(score, dtype=np.float64), 0.05, 0.95)
        return _uniform(job, worker, self.seed, 1) < p

    def delay_s(self, job: np.ndarray, worker: np.ndarray) -> np.ndarray:
        """Seconds from an offer (or a posting, in grab order) to this worker's answer."""
        return -self.mean_delay_s * np.log1p(-_uniform(job, worker, self.seed, 2))
