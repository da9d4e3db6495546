"""Answers for open cases, computed for many workers or jobs at once over the read snapshot.

Both sides go through :func:`features.pairs.build_pairs`, the one code path for features and the one
eligibility rule (:mod:`features.eligibility`); the reason codes are the batch run's
(:mod:`matcher.explain`) and their words come from :mod:`gigmatch.core.labels`.

**A worker's answer.** Each worker's ``JOBS_PER_WORKER`` nearest open jobs (within ``REACH_KM``) are
checked. The eligible ones, ranked by the serving scorer, are the answer (``code`` ``jobs_found``, the
best ``limit``); when none is eligible the answer is a Chinese ``message`` with the reason (the batch
run's unmatched-worker codes, or ``no_open_job_nearby``) and ``what_would_change``: the certificate
that would open the most of those jobs, the travel radius that would reach the nearest one, or, when
every job found starts outside the worker's availability, a longer availability.

**A job's answer.** The job's nearest able workers (:class:`matcher.retrieval.CandidateRetriever`,
``per_slot`` per slot, within ``REACH_FACTOR`` times the radius) are checked against the radius.
Workers whose case is closed without a hire are left out. When enough eligible workers would take
the wage (their ``min_daily_wage`` at most the offer, or none given) to fill the open slots the
answer is the ranked shortlist (``shortlist``); otherwise the reason (the batch run's unfilled-job
codes, or ``wage_below_workers_minimum``) and what would fill it: the daily wage at which enough of
the eligible workers' minimums are met, the radius that would reach enough eligible workers, and the
workers the job's *own* certificate requirement excludes (found by checking the pairs again with
the job's own requirements removed, so through the same eligibility rule).

Where the scorer has a calibration (:func:`models.calibration.p_match`: every trained model and the
heuristic), a job's answer also carries ``expected_completions``: the calibrated P(completed) summed
over the eligible workers who would take the wage, and the wage suggestion carries the same sum with
that wage offered (the pairs' features computed again with the job paying it). The wage itself is
set by the workers' stated minimums: the model can say how likely those who accept are to complete,
not that a worker would accept below their own minimum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.eligibility import Reason, flag
from features.encode import JobTable
from features.pairs import PairBatch, build_pairs
from features.registry import FEATURE_INDEX
from gigmatch.core.labels import en, zh
from matcher.retrieval import CandidateRetriever, GeoIndex
from models.calibration import p_match
from service.store import Snapshot

JOBS_PER_WORKER = 30  # nearest open jobs checked per worker
REACH_KM = 50.0  # farther than this is not "nearby" for a worker's answer
REACH_FACTOR = 3.0  # a job's candidates are looked for within this times its radius
CERT_FLAGS = flag(Reason.CERTIFICATE_MISSING) | flag(Reason.CERTIFICATE_EXPIRED)
DIST_FLAGS = flag(Reason.BEYOND_TRAVEL_LIMIT) | flag(Reason.BEYOND_RADIUS)


@dataclass
class Answers:
    """Answers for a batch of cases, aligned with the ids asked about.

    Attributes
    ----------
    ids : list of str, length n
    contents : list of dict, length n
        The answer content (``code``, ``message``, ``message_en``, ``jobs`` or ``workers``,
        ``what_would_change``).
    seen : list of list of str, length n
        The eligible jobs (or workers) behind each answer: a later answer is due when a new one
        appears.
    """

    ids: list[str]
    contents: list[dict]
    seen: list[list[str]]


class AnswerContext:
    """Per-snapshot indexes the answers need, reused across ticks and, where the tables did not change
    (an events refresh), taken over from the ``previous`` context."""

    def __init__(self, snap: Snapshot, previous: AnswerContext | None = None):
        self.snap = snap
        J = snap.jobs
        self.open_jobs = np.flatnonzero(snap.job_open)
        same_jobs = previous is not None and previous.snap.jobs is J
        if same_jobs and np.array_equal(previous.open_jobs, self.open_jobs):
            self.open_index = previous.open_index  # events refreshed the history only
        else:
            self.open_index = GeoIndex(J.lat[self.open_jobs], J.lon[self.open_jobs])
        same_workers = previous is not None and previous.snap.workers is snap.workers
        self._retriever: CandidateRetriever | None = previous._retriever if same_workers else None

    @property
    def retriever(self) -> CandidateRetriever:
        """Per-trade worker indexes, built on first use."""
        if self._retriever is None:
            self._retriever = CandidateRetriever(self.snap.workers)
        return self._retriever


def _top_per_group(group: np.ndarray, score: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the ``limit`` best scores of each group, grouped in ascending group order."""
    order = np.lexsort((-score, group))
    g = group[order]
    first = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    rank = np.arange(len(g)) - np.repeat(first, np.diff(np.r_[first, len(g)]))
    return order[rank < limit]


def _n(count, noun: str) -> str:
    """``"1 open job"``, ``"3 open jobs"``."""
    count = int(count)
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _calibrated(scorer, X: np.ndarray, score: np.ndarray) -> np.ndarray | None:
    """P(completed) of each pair from the scorer's calibration, or None for a scorer without one."""
    try:
        return p_match(scorer, X, score)
    except ValueError:  # a model trained before calibration existed: no probability to add up
        return None


def _round_km(d: float) -> int:
    return int(np.ceil(d))


def worker_answers(ctx: AnswerContext, scorer, rows: np.ndarray, asof_s: float, *, limit: int = 5) -> Answers:
    """Answers for the workers at snapshot rows ``rows`` (int array of shape (m,)).

    See the module docstring. Cost: one :func:`build_pairs` over ``m * JOBS_PER_WORKER`` pairs and
    one scorer call over the eligible ones.
    """
    snap = ctx.snap
    W, J = snap.workers, snap.jobs
    m = len(rows)
    ids = [str(x) for x in W.ids[rows]]
    q, p = ctx.open_index.nearest(W.lat[rows], W.lon[rows], JOBS_PER_WORKER)
    pj = ctx.open_jobs[p]
    pw = rows[q]
    b = build_pairs(J, W, pj, pw, history=snap.history, asof_s=asof_s, max_km=REACH_KM)
    near = b.distance_km <= REACH_KM
    elig = b.eligible
    score = np.zeros(len(pj))
    if elig.any():
        score[elig] = scorer.score(b.X[elig])
    top = _top_per_group(q[elig], score[elig], limit)
    top = np.flatnonzero(elig)[top]
    cnt = lambda mask: np.bincount(q[mask], minlength=m)  # noqa: E731
    n_near, n_elig = cnt(near), cnt(elig)
    f = b.flags
    only = lambda bits: cnt(near & (f != 0) & ((f & ~bits) == 0))  # noqa: E731 pairs failing only on `bits`
    reason = np.select(
        [
            n_elig > 0,
            n_near == 0,
            only(CERT_FLAGS) > 0,
            only(flag(Reason.BEYOND_TRAVEL_LIMIT)) > 0,
            cnt(near & ((f & flag(Reason.NO_MATCHING_SKILL)) != 0)) > 0,
        ],
        [
            "jobs_found",
            "no_open_job_nearby",
            "jobs_need_certificate",
            "jobs_beyond_travel_limit",
            "no_job_for_skills",
        ],
        "no_eligible_job_nearby",
    )
    changes = _worker_changes(J, q, pj, b, near, m)
    available = b.X[:, FEATURE_INDEX["available_at_start"]] > 0
    unavailable = (n_elig > 0) & (cnt(elig & available) == 0)
    per_worker: list[list[dict]] = [[] for _ in range(m)]
    for i in top:  # only the listed jobs: limit per worker
        j = pj[i]
        per_worker[q[i]].append(
            {
                "job_id": str(J.ids[j]),
                "trade": str(J.trade_code[j]),
                "score": round(float(score[i]), 6),
                "distance_km": round(float(b.distance_km[i]), 3),
                "daily_wage": None if np.isnan(J.daily_wage[j]) else float(J.daily_wage[j]),
            }
        )
    seen_q, seen_j = q[elig], J.ids[pj[elig]]
    seen: list[list[str]] = [[] for _ in range(m)]
    for k, j in zip(seen_q, seen_j, strict=True):
        seen[k].append(str(j))
    contents = []
    for k in range(m):
        code = str(reason[k])
        jobs = per_worker[k]
        change = list(changes[k])
        if unavailable[k]:
            change.append(
                {
                    "code": "extend_availability",
                    "text": "您填写的可上工时间内没有这些岗位开工，放宽可上工时间会有更多机会",
                    "text_en": "none of these jobs starts within your availability; a longer window would help",
                }
            )
        if jobs:
            message = f"为您找到{n_elig[k]}个合适的岗位，最近的{min(x['distance_km'] for x in jobs):.1f}公里"
            message_en = f"{_n(n_elig[k], 'open job')} you qualify for"
        else:
            message = f"暂时没有适合您的岗位：{zh(code)}"
            message_en = f"no open job you qualify for yet: {en(code)}"
            if change:
                message += "；" + change[0]["text"]
        contents.append(
            {
                "code": code,
                "label": zh(code),
                "message": message,
                "message_en": message_en,
                "jobs": jobs,
                "what_would_change": change,
            }
        )
    return Answers(ids, contents, seen)


def _worker_changes(J: JobTable, q, pj, b: PairBatch, near, m: int) -> list[list[dict]]:
    """Per worker: the certificate opening the most jobs, and the radius reaching the nearest job
    failing on distance alone (as :func:`matcher.explain.what_would_change`, structured, in Chinese)."""
    out: list[list[dict]] = [[] for _ in range(m)]
    f = b.flags
    cert_only = near & (f != 0) & ((f & ~CERT_FLAGS) == 0) & (b.missing_cert >= 0)
    if cert_only.any():
        df = pd.DataFrame(
            {"q": q[cert_only], "cert": J.req_code[b.missing_cert[cert_only]], "d": b.distance_km[cert_only]}
        )
        agg = df.groupby(["q", "cert"]).agg(jobs=("d", "size"), nearest=("d", "min")).reset_index()
        agg = agg.sort_values(["q", "jobs", "nearest"], ascending=[True, False, True]).drop_duplicates("q")
        for k, c, n, d in zip(agg["q"], agg["cert"], agg["jobs"], agg["nearest"], strict=True):
            out[k].append(
                {
                    "code": "need_certificate",
                    "certificate": str(c),
                    "jobs": int(n),
                    "nearest_km": round(float(d), 1),
                    "text": f"取得{c}证书，可以做附近{n}个岗位，最近的{d:.1f}公里",
                    "text_en": f"a {c} certificate would qualify you for {_n(n, 'nearby job')}, nearest {d:.1f} km",
                }
            )
    dist_only = near & (f != 0) & ((f & ~DIST_FLAGS) == 0)
    if dist_only.any():
        df = pd.DataFrame({"q": q[dist_only], "d": b.distance_km[dist_only], "job": J.ids[pj[dist_only]]})
        best = df.sort_values(["q", "d"]).drop_duplicates("q")
        for k, d, j in zip(best["q"], best["d"], best["job"], strict=True):
            r = _round_km(d)
            out[k].append(
                {
                    "code": "widen_travel_radius",
                    "radius_km": r,
                    "job_id": str(j),
                    "text": f"愿意通勤{r}公里，就能去岗位{j}",
                    "text_en": f"a travel radius of {r} km would reach job {j}",
                }
            )
    return out


def without_own_certificates(J: JobTable, taxonomy) -> JobTable:
    """``J`` with each job's own certificate requirements removed (the trade's own kept)."""
    counts = np.diff(J.req_ptr)
    job_of = np.repeat(np.arange(len(J)), counts)
    keep = np.fromiter(
        (
            c in taxonomy.required_certificates(J.trade_code[j])
            for j, c in zip(job_of, J.req_code, strict=True)
        ),
        dtype=bool,
        count=len(job_of),
    )
    kept = np.bincount(job_of[keep], minlength=len(J))
    return replace(
        J,
        req_ptr=np.r_[0, np.cumsum(kept)].astype(np.int64),
        req_cert=J.req_cert[keep],
        req_code=J.req_code[keep],
    )


def job_answers(
    ctx: AnswerContext,
    scorer,
    rows: np.ndarray,
    asof_s: float,
    *,
    max_km: float,
    blocked: np.ndarray | None = None,
    limit: int = 10,
    per_slot: int = 30,
) -> Answers:
    """Answers for the jobs at snapshot rows ``rows`` (int array of shape (m,)); see the module docstring.

    Parameters
    ----------
    max_km : float
        The job's search radius, km (the service's default radius).
    blocked : bool array of shape (n_workers,), optional
        Workers never listed (case closed without a hire).
    """
    snap = ctx.snap
    W, J = snap.workers, snap.jobs
    m = len(rows)
    ids = [str(x) for x in J.ids[rows]]
    only = np.zeros(len(J), dtype=bool)
    only[rows] = True
    pj, pw = ctx.retriever.candidates(J, REACH_FACTOR * max_km, per_slot=per_slot, only=only)
    if blocked is not None and len(pw):
        keep = ~blocked[pw]
        pj, pw = pj[keep], pw[keep]
    slot_of = np.full(len(J), -1)
    slot_of[rows] = np.arange(m)
    q = slot_of[pj]
    b = build_pairs(J, W, pj, pw, history=snap.history, asof_s=asof_s, max_km=max_km)
    elig = b.eligible
    wage = J.daily_wage[pj]
    min_wage = W.min_daily_wage[pw]
    takes = elig & (np.isnan(min_wage) | np.isnan(wage) | (min_wage <= wage))
    score = np.zeros(len(pj))
    p_done = np.zeros(len(pj))  # calibrated P(completed) of eligible pairs (0 elsewhere)
    calibrated = True
    if elig.any():
        score[elig] = scorer.score(b.X[elig])
        p = _calibrated(scorer, b.X[elig], score[elig])
        calibrated = p is not None
        if calibrated:
            p_done[elig] = p
    # the shortlist: those who would take the wage first, then the rest, best score first
    rank_key = score + np.where(takes, 1e6, 0.0)
    top = np.flatnonzero(elig)[_top_per_group(q[elig], rank_key[elig], limit)]
    cnt = lambda mask: np.bincount(q[mask], minlength=m)  # noqa: E731
    within = b.distance_km <= max_km
    n_cand, n_elig, n_takes = cnt(within), cnt(elig), cnt(takes)
    open_slots = np.maximum(J.headcount[rows] - snap.job_hired[rows], 1)
    f = b.flags
    by = lambda r: cnt(within & (b.reason == r))  # noqa: E731
    cert = by(Reason.CERTIFICATE_MISSING) + by(Reason.CERTIFICATE_EXPIRED)
    reason = np.select(
        [
            n_takes >= open_slots,
            n_cand == 0,
            (n_elig == 0) & (cert == n_cand),
            (n_elig == 0) & (by(Reason.NO_MATCHING_SKILL) == n_cand),
            (n_elig == 0) & (by(Reason.BEYOND_TRAVEL_LIMIT) == n_cand),
            n_elig == 0,
            n_elig >= open_slots,
        ],
        [
            "shortlist",
            "no_worker_within_radius",
            "certificate_nobody_nearby_holds",
            "no_skilled_worker_nearby",
            "beyond_workers_travel_limits",
            "no_eligible_worker",
            "wage_below_workers_minimum",
        ],
        "too_few_eligible_workers",
    )
    # radius: eligible within the radius, or failing on the radius alone beyond it
    reach = elig | (f == flag(Reason.BEYOND_RADIUS))
    # own certificates: pairs failing only on certificates, checked again without the job's own
    cert_only = (f != 0) & ((f & ~CERT_FLAGS) == 0)
    freed = np.zeros(len(pj), dtype=bool)
    if cert_only.any():
        J2 = without_own_certificates(J, snap.taxonomy)
        idx = np.flatnonzero(cert_only)
        b2 = build_pairs(J2, W, pj[idx], pw[idx], history=snap.history, asof_s=asof_s, max_km=max_km)
        freed[idx] = b2.eligible
    n_freed = cnt(freed)
    expected = np.bincount(q[takes], weights=p_done[takes], minlength=m)
    # the wage that meets enough eligible workers' minimums, and what the model expects at it:
    # the eligible pairs re-checked with that wage offered (a what-if through the same features)
    order = np.argsort(q, kind="stable")
    starts = np.searchsorted(q[order], np.arange(m + 1))
    need = np.full(m, np.nan)
    for k in range(m):
        j = rows[k]
        mine = order[starts[k] : starts[k + 1]]
        mins = np.sort(np.nan_to_num(min_wage[mine[elig[mine]]], nan=0.0))
        slots_k = int(open_slots[k])
        if len(mins) >= slots_k and not np.isnan(J.daily_wage[j]) and mins[slots_k - 1] > J.daily_wage[j]:
            need[k] = float(np.ceil(mins[slots_k - 1]))
    expected_at_need = np.full(m, np.nan)
    asked = elig & ~np.isnan(need[q]) if len(q) else elig
    if calibrated and asked.any():
        wages = J.daily_wage.copy()
        wages[rows[~np.isnan(need)]] = need[~np.isnan(need)]
        idx = np.flatnonzero(asked)
        b_need = build_pairs(
            replace(J, daily_wage=wages),
            W,
            pj[idx],
            pw[idx],
            history=snap.history,
            asof_s=asof_s,
            max_km=max_km,
        )
        p_need = _calibrated(scorer, b_need.X, scorer.score(b_need.X))
        if p_need is not None:
            accept = np.isnan(min_wage[idx]) | (min_wage[idx] <= need[q[idx]])
            expected_at_need = np.bincount(q[idx][accept], weights=p_need[accept], minlength=m)
            expected_at_need[np.isnan(need)] = np.nan
    per_job: list[list[dict]] = [[] for _ in range(m)]
    for i in top:
        per_job[q[i]].append(
            {
                "worker_id": str(W.ids[pw[i]]),
                "score": round(float(score[i]), 6),
                "distance_km": round(float(b.distance_km[i]), 3),
                "takes_wage": bool(takes[i]),
            }
        )
    seen: list[list[str]] = [[] for _ in range(m)]
    for k, w in zip(q[elig], W.ids[pw[elig]], strict=True):
        seen[k].append(str(w))
    contents = []
    for k in range(m):
        code = str(reason[k])
        slots = int(open_slots[k])
        change: list[dict] = []
        if code != "shortlist":
            mine = order[starts[k] : starts[k + 1]]
            j = rows[k]
            mins = np.sort(np.nan_to_num(min_wage[mine[elig[mine]]], nan=0.0))
            if not np.isnan(need[k]):
                wage_k = float(need[k])
                n_ok = int(np.sum(mins <= wage_k))
                suggestion = {
                    "code": "raise_wage",
                    "daily_wage": wage_k,
                    "workers": n_ok,
                    "expected_completions": None,
                    "text": f"日工资提高到{wage_k:.0f}元，附近{n_ok}位符合条件的工人会接受",
                    "text_en": f"a daily wage of {wage_k:.0f} yuan meets the minimum of {_n(n_ok, 'eligible worker')} nearby",
                }
                if not np.isnan(expected_at_need[k]):
                    e = round(float(expected_at_need[k]), 2)
                    suggestion["expected_completions"] = e
                    suggestion["text"] += f"（模型预计约{e:g}人能完工）"
                    suggestion["text_en"] += f" (the model expects about {e:g} completed)"
                change.append(suggestion)
            d = np.sort(b.distance_km[mine[reach[mine]]])
            if len(d) >= slots and d[slots - 1] > max_km:
                r = _round_km(d[slots - 1])
                change.append(
                    {
                        "code": "widen_radius",
                        "radius_km": r,
                        "workers": int(np.sum(d <= r)),
                        "text": f"招工范围扩大到{r}公里，可以找到{int(np.sum(d <= r))}位符合条件的工人",
                        "text_en": f"a radius of {r} km reaches {_n(np.sum(d <= r), 'eligible worker')}",
                    }
                )
            if n_freed[k] > 0:
                own = [
                    c
                    for c in J.req_code[J.req_ptr[j] : J.req_ptr[j + 1]]
                    if c not in snap.taxonomy.required_certificates(J.trade_code[j])
                ]
                names = "、".join(dict.fromkeys(str(c) for c in own))
                change.append(
                    {
                        "code": "drop_certificate",
                        "certificates": list(dict.fromkeys(str(c) for c in own)),
                        "workers": int(n_freed[k]),
                        "text": f"不再要求{names}证书，还有{n_freed[k]}位工人符合条件",
                        "text_en": f"without the job's own requirement of {', '.join(dict.fromkeys(str(c) for c in own))}, {_n(n_freed[k], 'more worker')} would qualify",
                    }
                )
        if code == "shortlist":
            message = f"已为岗位找到{n_takes[k]}位符合条件的工人"
            message_en = f"{_n(n_takes[k], 'eligible worker')} would take this job"
        else:
            message = f"岗位还缺{slots}人：{zh(code)}" + ("；" + change[0]["text"] if change else "")
            message_en = f"{_n(slots, 'open slot')}: {en(code)}"
        contents.append(
            {
                "code": code,
                "label": zh(code),
                "message": message,
                "message_en": message_en,
                "open_slots": slots,
                "eligible_workers": int(n_elig[k]),
                # calibrated P(completed) summed over the eligible workers who would take the wage
                "expected_completions": round(float(expected[k]), 2) if calibrated else None,
                "workers": per_job[k],
                "what_would_change": change,
            }
        )
    return Answers(ids, contents, seen)
