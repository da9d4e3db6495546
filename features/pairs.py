"""The pairwise feature registry and the one function that computes it.

:func:`build_pairs` turns (job, worker) index pairs into a feature matrix, distances and the
eligibility reason codes, all vectorised over pairs. Training, offline scoring, batch assignment and
the API all call it; nothing else computes features.

Feature registry (name, unit, range; missing-value rule)
--------------------------------------------------------
See :data:`FEATURES`. Ratios with a missing side are NaN (LightGBM routes NaN natively; the heuristic
scorer treats NaN as neutral).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.eligibility import Reason, first_reason, flag
from features.encode import SECONDS_PER_DAY, JobTable, WorkerTable, csr_lookup, csr_positions
from features.history import WorkerHistory
from gigmatch.core.geo import haversine_rad_km
from gigmatch.core.times import market_now

RATING_PRIOR_MEAN = 4.0  # stars; a new worker is treated as a 4.0 with the weight of 5 ratings
RATING_PRIOR_WEIGHT = 5.0
NO_SHOW_PRIOR_RATE = 0.1
NO_SHOW_PRIOR_WEIGHT = 5.0
APPLY_PRIOR_RATE = 0.4  # share of shown jobs a worker applies to, before the log says otherwise
APPLY_PRIOR_WEIGHT = 5.0
HIRE_PRIOR_RATE = 0.4  # share of applications that end in a hire
HIRE_PRIOR_WEIGHT = 5.0


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    range: str
    missing: str
    doc: str


FEATURES: tuple[Feature, ...] = (
    Feature(
        "distance_km", "km", "[0, 20000]", "never missing", "great-circle distance job site - worker home"
    ),
    Feature("within_travel_limit", "flag", "{0, 1}", "never missing", "distance <= worker's max_travel_km"),
    Feature("distance_over_travel_limit", "ratio", "[0, inf)", "never missing", "distance / max_travel_km"),
    Feature(
        "distance_pct_in_pool",
        "fraction",
        "[0, 1]",
        "0 for a pool of one",
        "distance rank among the job's candidates (0 = nearest, ties share the lower rank)",
    ),
    Feature("trade_exact", "flag", "{0, 1}", "0", "worker lists the job's trade"),
    Feature("trade_years", "years", "[0, 80]", "0 without the skill", "years in the job's trade"),
    Feature(
        "trade_related_credit",
        "credit",
        "[0, 1]",
        "0",
        "1 for the exact trade, else the best related-trade credit",
    ),
    Feature("n_skills", "count", "[0, inf)", "0", "number of trades the worker lists"),
    Feature(
        "preferred_trade",
        "flag",
        "{0, 1}",
        "NaN when the worker lists no preferences",
        "the job's trade is one the worker wants",
    ),
    Feature(
        "certs_required", "count", "[0, inf)", "0", "certificates the job needs (trade's plus the job's own)"
    ),
    Feature(
        "certs_satisfied_frac",
        "fraction",
        "[0, 1]",
        "1 when none required",
        "share of required certificates held and valid at the start day",
    ),
    Feature(
        "restricted_without_licence",
        "flag",
        "{0, 1}",
        "0",
        "restricted trade and a required licence missing or expired",
    ),
    Feature(
        "open_to_all",
        "flag",
        "{0, 1}",
        "0 for unknown trades",
        "entry-level trade that needs no listed skill",
    ),
    Feature(
        "rating_shrunk",
        "stars",
        "[1, 5]",
        "prior 4.0 with no ratings",
        "Bayesian mean rating, prior 4.0 weighted as 5 ratings",
    ),
    Feature("rating_count", "log1p count", "[0, inf)", "0", "log1p(number of ratings) as of the time"),
    Feature("jobs_completed", "log1p count", "[0, inf)", "0", "log1p(completed jobs) as of the time"),
    Feature(
        "no_show_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.1",
        "no-shows / (completed + no-shows), prior 0.1 weighted as 5 jobs",
    ),
    Feature(
        "apply_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.4",
        "applied / shown on the platform, prior 0.4 weighted as 5 showings",
    ),
    Feature(
        "hire_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.4",
        "hired / applied, prior 0.4 weighted as 5 applications",
    ),
    Feature("shown_count", "log1p count", "[0, inf)", "0", "log1p(jobs shown to the worker) as of the time"),
    Feature("employer_rating_shrunk", "stars", "[1, 5]", "prior 4.0", "employer's Bayesian mean rating"),
    Feature(
        "employer_blacklisted",
        "flag",
        "{0, 1}",
        "0 for unknown employers",
        "employer on the wage-arrears blacklist",
    ),
    Feature(
        "wage_vs_min",
        "ratio",
        "[0, inf)",
        "NaN when either side is missing",
        "offered daily wage / worker's minimum",
    ),
    Feature(
        "wage_vs_trade_median",
        "ratio",
        "[0, inf)",
        "NaN when either side is missing",
        "offered daily wage / the trade's local median",
    ),
    Feature(
        "available_at_start",
        "flag",
        "{0, 1}",
        "1 when no availability given",
        "job start within the worker's availability window",
    ),
    Feature(
        "days_since_last_activity",
        "days",
        "[0, inf)",
        "NaN when never active",
        "days since the worker last applied, declined or completed",
    ),
    Feature("days_since_registered", "days", "[0, inf)", "NaN when not given", "days since registration"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


@dataclass
class PairBatch:
    """Features and eligibility for a batch of pairs.

    Attributes
    ----------
    X : ndarray of shape (n_pairs, n_features), float32, columns in :data:`FEATURE_NAMES` order.
    distance_km : ndarray of shape (n_pairs,), float64.
    reason : ndarray of shape (n_pairs,), int8, :class:`~features.eligibility.Reason` (0 = eligible).
    flags : ndarray of shape (n_pairs,), int16, every failing constraint as a bit set.
    missing_cert : ndarray of shape (n_pairs,), int64, index into ``jobs.req_code`` of the first
        missing or expired required certificate, -1 when none.
    """

    X: np.ndarray
    distance_km: np.ndarray
    reason: np.ndarray
    flags: np.ndarray
    missing_cert: np.ndarray

    @property
    def eligible(self) -> np.ndarray:
        return self.reason == 0

    def column(self, name: str) -> np.ndarray:
        return self.X[:, FEATURE_NAMES.index(name)]


def _pool_percentile(group: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Distance rank within each group / (group size - 1); ties take the lower rank.

    Distances are compared in whole metres, so the result does not depend on pair order or batching.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0)
    metres = np.minimum(np.round(distance * 1000.0), 2**25 - 1).astype(np.int64)
    if _is_constant(group):  # one pool (the API's single-job path): a plain rank, no group bookkeeping
        order = np.argsort(metres)
        d = metres[order]
        rank = np.maximum.accumulate(np.where(np.r_[True, d[1:] != d[:-1]], np.arange(n), 0))
        out = np.empty(n)
        out[order] = rank / max(n - 1, 1)
        return out
    # Group ids are non-negative ints (job rows).
    g_dense = group.astype(np.int64) - int(group.min())
    key = g_dense << 25 | metres
    order = np.argsort(key)
    g, d = g_dense[order], metres[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    size = np.diff(np.r_[np.flatnonzero(new_group), n])
    new_value = new_group | np.r_[True, d[1:] != d[:-1]]
    rank = np.maximum.accumulate(np.where(new_value, np.arange(n), 0)) - start
    denom = np.repeat(np.maximum(size - 1, 1), size)
    out = np.empty(n)
    out[order] = rank / denom
    return out


def _trade_median_wage(jobs: JobTable, job: np.ndarray, asof: np.ndarray) -> np.ndarray:
    """The job's trade median wage as of each pair's time, shape (n_pairs,); once per job when the
    as-of time is shared (serving and batch runs), else per pair (training)."""
    if _is_constant(asof) and len(job):
        if _is_constant(job):  # one job (the API): one lookup
            return np.full(len(job), jobs.stats.median_wage(jobs.trade_code[job[:1]], asof[0])[0])
        if len(job) >= len(jobs):  # a batch over many jobs: every job once, then a gather
            return jobs.stats.median_wage(jobs.trade_code, asof[0])[job]
        jobs_u, inverse = np.unique(job, return_inverse=True)
        return jobs.stats.median_wage(jobs.trade_code[jobs_u], asof[0])[inverse]
    return jobs.stats.median_wage(jobs.trade_code[job], asof)


def _is_constant(a: np.ndarray) -> bool:
    return len(a) == 0 or bool(a[0] == a[-1] and (a == a[0]).all())


def _certificates(
    jobs: JobTable, workers: WorkerTable, job: np.ndarray, worker: np.ndarray, start_day: np.ndarray
):
    """Per pair: (required, satisfied, any missing, any expired-but-held, index of first missing cert)."""
    n_req = (jobs.req_ptr[1:] - jobs.req_ptr[:-1])[job]
    total = int(n_req.sum())
    pair_of = np.repeat(np.arange(len(job)), n_req)
    entry = np.repeat(jobs.req_ptr[job], n_req) + (
        np.arange(total) - np.repeat(np.cumsum(n_req) - n_req, n_req)
    )
    cert = jobs.req_cert[entry]
    expiry = csr_lookup(workers.certificates, worker[pair_of], cert, missing=np.nan)
    held = ~np.isnan(expiry)
    valid = held & (expiry >= start_day[pair_of])  # valid through its expiry day, inclusive
    satisfied = np.bincount(pair_of, weights=valid, minlength=len(job))
    missing = np.bincount(pair_of, weights=~held, minlength=len(job)) > 0
    expired = np.bincount(pair_of, weights=held & ~valid, minlength=len(job)) > 0
    first_bad = np.full(len(job), -1, dtype=np.int64)
    bad = np.flatnonzero(~valid)
    first_bad[pair_of[bad[::-1]]] = entry[bad[::-1]]  # reversed so the first bad entry wins
    return n_req.astype(np.float64), satisfied, missing, expired, first_bad


def build_pairs(
    jobs: JobTable,
    workers: WorkerTable,
    job: np.ndarray,
    worker: np.ndarray,
    *,
    history: WorkerHistory | None = None,
    asof_s: np.ndarray | float | None = None,
    max_km: np.ndarray | float | None = None,
    group: np.ndarray | None = None,
) -> PairBatch:
    """Compute features and eligibility for pairs ``(job[i], worker[i])``.

    Parameters
    ----------
    jobs, workers : encoded tables.
    job, worker : int arrays of shape (n_pairs,), row indices into ``jobs`` and ``workers``.
    history : event-derived history; None means the snapshot columns only.
    asof_s : float or array of shape (n_pairs,), seconds since epoch, optional
        The time the features describe (the moment the job was shown). Event history counts strictly
        before it. Default: each job's ``posted_at``, or now when that is missing.
    max_km : float or array of shape (n_pairs,), optional
        A request's radius in km (``BEYOND_RADIUS`` beyond it).
    group : int array of shape (n_pairs,), optional
        Candidate pool per pair for ``distance_pct_in_pool``; default ``job``.

    Returns
    -------
    PairBatch
    """
    job = np.asarray(job, dtype=np.int64)
    worker = np.asarray(worker, dtype=np.int64)
    n = len(job)
    if asof_s is None:
        asof = jobs.posted_s[job]
    else:
        asof = np.broadcast_to(np.asarray(asof_s, dtype=np.float64), (n,)).copy()
    asof = np.where(np.isnan(asof), market_now(), asof)
    start_s = np.where(np.isnan(jobs.start_s[job]), asof, jobs.start_s[job])
    start_day = np.floor(start_s / SECONDS_PER_DAY)

    d = haversine_rad_km(
        jobs.lat_rad[job],
        jobs.lon_rad[job],
        jobs.cos_lat[job],
        workers.lat_rad[worker],
        workers.lon_rad[worker],
        workers.cos_lat[worker],
    )
    travel = workers.max_travel_km[worker]
    within = d <= travel
    trade = jobs.trade[job]
    pos = csr_positions(workers.profile, worker, trade)
    found = pos >= 0
    at = np.maximum(pos, 0)
    if workers.profile.nnz:
        years = np.where(found, workers.profile_years[at], np.nan)
        related = np.where(found, workers.profile_credit[at], 0.0)
        preferred_here = found & (workers.profile_preferred[at] > 0)
    else:
        years, related, preferred_here = np.full(n, np.nan), np.zeros(n), np.zeros(n, dtype=bool)
    exact = ~np.isnan(years)
    pref = np.where(workers.n_preferred[worker] > 0, preferred_here, np.nan)
    n_req, satisfied, cert_missing, cert_expired, first_bad = _certificates(
        jobs, workers, job, worker, start_day
    )
    cert_ok = satisfied == n_req

    hist = history.asof(worker, asof) if history is not None else None
    zero = np.zeros(n)
    r_n = workers.rating_count[worker] + (hist["rating_count"] if hist else zero)
    r_sum = np.nan_to_num(workers.rating_avg[worker]) * workers.rating_count[worker] + (
        hist["rating_sum"] if hist else zero
    )
    done = workers.jobs_completed[worker] + (hist["completed"] if hist else zero)
    noshow = workers.no_shows[worker] + (hist["no_shows"] if hist else zero)
    shown = hist["shown"] if hist else zero
    applied = hist["applied"] if hist else zero
    hired = hist["hired"] if hist else zero
    last = hist["last_activity_s"] if hist else np.full(n, np.nan)
    last = np.fmax(last, workers.registered_s[worker])
    e_n = jobs.employer_rating_count[job]
    e_sum = np.nan_to_num(jobs.employer_rating_avg[job]) * e_n
    blacklisted = jobs.employer_blacklisted[job]
    a_from, a_until = workers.available_from_s[worker], workers.available_until_s[worker]
    available = ~((start_s < a_from) | (start_s > a_until + SECONDS_PER_DAY))
    with np.errstate(divide="ignore", invalid="ignore"):
        wage_min = jobs.daily_wage[job] / workers.min_daily_wage[worker]
        wage_med = jobs.daily_wage[job] / _trade_median_wage(jobs, job, asof)
    wage_min = np.where(np.isfinite(wage_min), wage_min, np.nan)
    wage_med = np.where(np.isfinite(wage_med), wage_med, np.nan)

    columns = (
        d,
        within,
        d / np.maximum(travel, 1e-3),
        _pool_percentile(job if group is None else np.asarray(group), d),
        exact,
        np.nan_to_num(years),
        related,
        workers.n_skills[worker],
        pref,
        n_req,
        np.where(n_req > 0, satisfied / np.maximum(n_req, 1), 1.0),
        jobs.restricted[job] & ~cert_ok,
        jobs.open_to_all[job],
        (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + r_sum) / (RATING_PRIOR_WEIGHT + r_n),
        np.log1p(r_n),
        np.log1p(done),
        (NO_SHOW_PRIOR_RATE * NO_SHOW_PRIOR_WEIGHT + noshow) / (NO_SHOW_PRIOR_WEIGHT + done + noshow),
        (APPLY_PRIOR_RATE * APPLY_PRIOR_WEIGHT + applied) / (APPLY_PRIOR_WEIGHT + shown),
        (HIRE_PRIOR_RATE * HIRE_PRIOR_WEIGHT + hired) / (HIRE_PRIOR_WEIGHT + applied),
        np.log1p(shown),
        (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + e_sum) / (RATING_PRIOR_WEIGHT + e_n),
        blacklisted,
        wage_min,
        wage_med,
        available,
        (asof - last) / SECONDS_PER_DAY,
        (asof - workers.registered_s[worker]) / SECONDS_PER_DAY,
    )
    X = np.empty((n, len(FEATURES)), dtype=np.float32, order="F")  # column writes stay contiguous
    for i, col in enumerate(columns):  # loop over ~24 feature columns, each vectorised over pairs
        X[:, i] = col

    flags = np.zeros(n, dtype=np.int16)
    flags |= np.where(blacklisted, flag(Reason.EMPLOYER_BLACKLISTED), 0).astype(np.int16)
    flags |= np.where(cert_missing, flag(Reason.CERTIFICATE_MISSING), 0).astype(np.int16)
    flags |= np.where(cert_expired, flag(Reason.CERTIFICATE_EXPIRED), 0).astype(np.int16)
    flags |= np.where(~jobs.open_to_all[job] & (related <= 0), flag(Reason.NO_MATCHING_SKILL), 0).astype(
        np.int16
    )
    flags |= np.where(~within, flag(Reason.BEYOND_TRAVEL_LIMIT), 0).astype(np.int16)
    if max_km is not None:
        flags |= np.where(d > np.asarray(max_km, dtype=np.float64), flag(Reason.BEYOND_RADIUS), 0).astype(
            np.int16
        )
    return PairBatch(X=X, distance_km=d, reason=first_reason(flags), flags=flags, missing_cert=first_bad)
