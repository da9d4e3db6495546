"""The operators' batch run: retrieve, check, score and solve a whole market's jobs at once.

Every unfilled slot and every unmatched worker gets a reason (事事有回音):

Unfilled job reasons (first that applies)
    ``employer_blacklisted``               the employer is on the wage-arrears blacklist
    ``no_worker_within_radius``            nobody lives within ``max_km``
    ``certificate_nobody_nearby_holds``    candidates exist, but none holds the required certificate
    ``no_skilled_worker_nearby``           candidates exist, but none has the skill or a related one
    ``beyond_workers_travel_limits``       candidates exist, but all are farther than they will travel
    ``no_eligible_worker``                 candidates exist, each excluded for a mix of the above
    ``below_min_score``                    eligible workers exist, but none scores ``min_score``
    ``too_few_eligible_workers``           every eligible worker was assigned here; still short
    ``eligible_workers_taken_by_better_matches``  eligible workers went to jobs where they fit better

Unmatched worker reasons, each with ``what_would_change`` where something would
    ``no_job_within_radius``, ``jobs_need_certificate``, ``no_job_for_skills``,
    ``jobs_beyond_travel_limit``, ``only_blacklisted_employers``, ``below_min_score``,
    ``outcompeted`` (eligible, but the slots went to better matches), ``capacity_zero``,
    ``no_eligible_job_nearby`` (each nearby job fails on more than one constraint). A certificate or
    travel reason means some nearby job fails on that alone.
    ``what_would_change`` names the certificate that would qualify the worker for the most jobs
    within reach, or the travel radius that would reach the nearest job they otherwise qualify for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.eligibility import Reason, flag
from features.encode import JobTable, WorkerTable, encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from gigmatch.core.contract import Market
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.core.times import market_now
from matcher.retrieval import CandidateRetriever, GeoIndex
from matcher.solver import solve_assignment

log = logging.getLogger("gigmatch.assign")
SUGGESTION_JOBS_PER_WORKER = 30  # nearest jobs examined per unmatched worker for "what would change"
EXPAND = 4  # candidate growth per extra round for jobs left open
MAX_ROUNDS = 3  # rounds of candidate expansion and re-solving at most


@dataclass
class AssignmentResult:
    assignments: pd.DataFrame
    unfilled_jobs: pd.DataFrame
    unmatched_workers: pd.DataFrame
    summary: dict
    pairs: dict = field(default_factory=dict)  # lat/lon for the report's map


def run_batch(
    market: Market,
    scorer,
    *,
    max_km: float = 15.0,
    objective: str = "fill",
    worker_capacity: int = 1,
    min_score: float | None = None,
    candidates_per_slot: int = 30,
    asof_s: float | None = None,
    client=None,
    progress=None,
) -> AssignmentResult:
    """Match every job of ``market`` (with its headcount) to nearby eligible workers.

    Parameters
    ----------
    market : validated market; all its jobs form the batch.
    scorer : object with ``match_weight(X) -> (n_pairs,)`` in (0, 1] and a ``version`` string.
    max_km : retrieval radius around each job, km.
    objective : ``"fill"`` (most slots filled, then best total score) or ``"weight"``.
    worker_capacity : jobs one worker may take in this batch.
    min_score : pairs scoring below it are never assigned.
    candidates_per_slot : each job's candidates are its ``candidates_per_slot * headcount`` nearest
        workers who could do the trade (see :class:`matcher.retrieval.CandidateRetriever`). Jobs left
        with open slots after solving, whose list that cut short, get ``EXPAND`` times more and the
        batch is solved again (at most ``MAX_ROUNDS`` rounds); the result is exact over the final set.
    asof_s : time the worker history is taken at (market time, seconds since epoch); default: now.
    client : optional Dask client; the solver's chunks run on it with an identical result.
    progress : optional callable ``(stage_name) -> None`` for a progress display.
    """
    step = progress or (lambda stage: None)
    t_start = time.perf_counter()
    step("encode")
    W, J = encode_market(market)
    H = WorkerHistory(market.events, W.ids)
    asof = float(asof_s) if asof_s is not None else market_now()

    step("retrieve")
    retriever = CandidateRetriever(W)
    pj, pw = retriever.candidates(J, max_km, per_slot=candidates_per_slot)
    anyone_near = retriever.count_within(J.lat, J.lon, max_km)
    solve_s = 0.0
    rounds = 0
    while True:
        rounds += 1
        step("features")
        batch = build_pairs(J, W, pj, pw, history=H, asof_s=asof, max_km=max_km)
        step("score")
        eligible = batch.eligible
        weight = np.zeros(len(pj))
        if eligible.any():
            weight[eligible] = scorer.match_weight(batch.X[eligible])
        usable = eligible & (weight >= (min_score if min_score is not None else -np.inf))
        step("solve")
        t_solve = time.perf_counter()
        e = np.flatnonzero(usable)
        chosen_e = solve_assignment(
            pj[e],
            pw[e],
            weight[e],
            J.headcount,
            np.full(len(W), worker_capacity),
            objective=objective,
            client=client,
        )
        solve_s += time.perf_counter() - t_solve
        chosen = np.zeros(len(pj), dtype=bool)
        chosen[e[chosen_e]] = True
        # Jobs left with open slots whose candidate list preselection cut short get EXPAND times more
        # candidates, and the whole batch is solved again over the enlarged set (still exact over it).
        open_slots = J.headcount - np.bincount(pj[chosen], minlength=len(J))
        cut = np.bincount(pj, minlength=len(J)) >= candidates_per_slot * J.headcount
        grow = (open_slots > 0) & cut
        if rounds >= MAX_ROUNDS or not grow.any():
            break
        candidates_per_slot *= EXPAND
        more_j, more_w = retriever.candidates(J, max_km, per_slot=candidates_per_slot, only=grow)
        key = np.unique(np.r_[pj * len(W) + pw, more_j * len(W) + more_w])
        if len(key) == len(pj):
            break  # nothing new within the radius
        pj, pw = key // len(W), key % len(W)

    step("explain")
    assignments = pd.DataFrame(
        {
            "job_id": J.ids[pj[chosen]],
            "worker_id": W.ids[pw[chosen]],
            "score": np.round(weight[chosen], 6),
            "distance_km": np.round(batch.distance_km[chosen], 3),
        }
    )
    unfilled = _unfilled_jobs(J, pj, batch, eligible, usable, chosen, anyone_near, market.taxonomy, max_km)
    unmatched = _unmatched_workers(W, J, H, asof, pw[chosen], scorer, worker_capacity, max_km, min_score)
    slots = int(J.headcount.sum())
    filled = int(chosen.sum())
    dist = batch.distance_km[chosen]
    summary = {
        "jobs": len(J),
        "workers": len(W),
        "slots": slots,
        "filled": filled,
        "fill_rate": round(filled / slots, 4) if slots else 0.0,
        "objective": objective,
        "total_score": round(float(weight[chosen].sum()), 4),
        "mean_distance_km": round(float(dist.mean()), 3) if filled else None,
        "p90_distance_km": round(float(np.quantile(dist, 0.9)), 3) if filled else None,
        "candidate_pairs": len(pj),
        "eligible_pairs": int(eligible.sum()),
        "solver_seconds": round(solve_s, 3),
        "candidate_rounds": rounds,
        "total_seconds": round(time.perf_counter() - t_start, 3),
        "model_version": scorer.version,
        "max_km": max_km,
        "worker_capacity": worker_capacity,
        "min_score": min_score,
        "workers_matched": int(len(np.unique(pw[chosen]))),
        "workers_unmatched": int(len(unmatched)),
        "unfilled_reasons": unfilled["reason"].value_counts().to_dict(),
        "unmatched_reasons": unmatched["reason"].value_counts().to_dict(),
    }
    pairs = {
        "job_lat": J.lat,
        "job_lon": J.lon,
        "worker_lat": W.lat,
        "worker_lon": W.lon,
        "a_job": pj[chosen],
        "a_worker": pw[chosen],
        "distance_km": dist,
    }
    return AssignmentResult(assignments, unfilled, unmatched, summary, pairs)


def _per_job(pj: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    return np.bincount(pj[mask], minlength=n)


def _unfilled_jobs(
    J: JobTable, pj, batch, eligible, usable, chosen, anyone_near, taxonomy: Taxonomy, max_km: float
) -> pd.DataFrame:
    reason = batch.reason
    n = len(J)
    filled = _per_job(pj, n, chosen)
    open_slots = J.headcount - filled
    cand = np.bincount(pj, minlength=n)
    n_elig = _per_job(pj, n, eligible)
    n_usable = _per_job(pj, n, usable)
    by = {r: _per_job(pj, n, reason == r) for r in Reason if r != Reason.ELIGIBLE}
    cert = by[Reason.CERTIFICATE_MISSING] + by[Reason.CERTIFICATE_EXPIRED]
    out = np.select(
        [
            J.employer_blacklisted,
            anyone_near == 0,
            cand == 0,
            (n_elig == 0) & (cert == cand),
            (n_elig == 0) & (by[Reason.NO_MATCHING_SKILL] == cand),
            (n_elig == 0) & (by[Reason.BEYOND_TRAVEL_LIMIT] == cand),
            n_elig == 0,
            n_usable == 0,
            n_usable <= filled,
        ],
        [
            "employer_blacklisted",
            "no_worker_within_radius",
            "no_skilled_worker_nearby",
            "certificate_nobody_nearby_holds",
            "no_skilled_worker_nearby",
            "beyond_workers_travel_limits",
            "no_eligible_worker",
            "below_min_score",
            "too_few_eligible_workers",
        ],
        "eligible_workers_taken_by_better_matches",
    )
    keep = open_slots > 0
    detail = np.full(n, "", dtype=object)
    starts = np.searchsorted(pj, np.arange(n + 1))  # candidate pairs are grouped by job, in job order
    for j in np.flatnonzero(keep & (n_elig == 0) & (cand > 0)):  # jobs nobody could take: say why, in full
        rows = np.arange(starts[j], starts[j + 1])
        detail[j] = explain_exclusions(J, int(j), batch, rows, taxonomy, max_km)
    for j in np.flatnonzero(keep & (cand == 0)):
        detail[j] = f"no worker who could do {J.trade_code[j]} lives within {max_km:g} km"
    return pd.DataFrame(
        {
            "job_id": J.ids[keep],
            "trade": J.trade_code[keep],
            "open_slots": open_slots[keep],
            "reason": out[keep],
            "candidates_within_radius": cand[keep],
            "eligible_candidates": n_elig[keep],
            "detail": detail[keep],
        }
    )


def explain_exclusions(
    J: JobTable, j: int, batch, rows: np.ndarray, taxonomy: Taxonomy, max_km: float
) -> str:
    """Why none of a job's candidates ``rows`` (positions in ``batch``) is eligible, in one sentence.

    Names the reasons by how many candidates they exclude and, for certificates, which ones and where
    the requirement comes from (the trade's rule in the market's vocabulary or the built-in taxonomy,
    or the job's own list), so that a vocabulary mismatch shows as what it is.
    """
    reason = batch.reason[rows]
    total = len(rows)
    parts = []
    codes, counts = np.unique(reason[reason > 0], return_counts=True)
    for code, count in sorted(zip(codes, counts, strict=True), key=lambda x: -x[1]):
        r = Reason(int(code))
        if r in (Reason.CERTIFICATE_MISSING, Reason.CERTIFICATE_EXPIRED):
            missing = batch.missing_cert[rows][reason == code]
            certs, n_cert = np.unique(J.req_code[missing[missing >= 0]], return_counts=True)
            top = certs[np.argmax(n_cert)] if len(certs) else "a certificate"
            verb = "lack" if r == Reason.CERTIFICATE_MISSING else "hold an expired"
            parts.append(f"{count} {verb} certificate {top} ({certificate_source(J, j, top, taxonomy)})")
        elif r == Reason.NO_MATCHING_SKILL:
            parts.append(
                f"{count} do not list {J.trade_code[j]} or a related trade "
                f"({taxonomy.describe_trade_rule(J.trade_code[j])})"
            )
        elif r == Reason.BEYOND_TRAVEL_LIMIT:
            parts.append(f"{count} live farther than they will travel")
        elif r == Reason.BEYOND_RADIUS:
            parts.append(f"{count} live beyond {max_km:g} km")
        elif r == Reason.EMPLOYER_BLACKLISTED:
            return "the employer is on the wage-arrears blacklist (欠薪黑名单): never matched"
    return f"none of the {total} workers nearby is eligible: " + "; ".join(parts)


def certificate_source(J: JobTable, j: int, cert: str, taxonomy: Taxonomy) -> str:
    """Where job ``j``'s requirement of ``cert`` comes from, in words."""
    trade = J.trade_code[j]
    if cert in taxonomy.required_certificates(trade):
        where = "the built-in taxonomy" if taxonomy.is_built_in else "the market's trades table"
        return f"required by trade {trade} in {where}"
    return "listed by the job itself"


def _unmatched_workers(
    W: WorkerTable, J: JobTable, H, asof, assigned_workers, scorer, worker_capacity, max_km, min_score
) -> pd.DataFrame:
    """Reasons for every worker left without a job, from each worker's own nearest jobs.

    Worker-centric on purpose: job-side candidate preselection must not make a worker who lives near
    jobs look as if nothing were near.
    """
    n = len(W)
    matched = np.bincount(assigned_workers, minlength=n) > 0
    who = np.flatnonzero(~matched)
    if len(who) == 0:
        return pd.DataFrame(
            columns=["worker_id", "reason", "jobs_within_radius", "eligible_jobs", "what_would_change"]
        )
    jobs_index = GeoIndex(J.lat, J.lon)
    q, pj = jobs_index.nearest(W.lat[who], W.lon[who], SUGGESTION_JOBS_PER_WORKER)
    pw = who[q]
    b = build_pairs(J, W, pj, pw, history=H, asof_s=asof, max_km=max_km)
    m = len(who)
    near = b.distance_km <= max_km
    cnt = lambda mask: np.bincount(q[mask], minlength=m)  # noqa: E731
    n_near = cnt(near)
    elig = near & b.eligible
    n_elig = cnt(elig)
    n_usable = n_elig if min_score is None else cnt(_scores_at_least(scorer, b.X, elig, min_score))
    f = b.flags
    cert_flags = flag(Reason.CERTIFICATE_MISSING) | flag(Reason.CERTIFICATE_EXPIRED)
    only = lambda bits: cnt(near & (f != 0) & ((f & ~bits) == 0))  # noqa: E731  pairs failing only on `bits`
    reason = np.select(
        [
            np.full(m, worker_capacity <= 0),
            n_near == 0,
            n_usable > 0,
            n_elig > 0,
            only(flag(Reason.EMPLOYER_BLACKLISTED)) == n_near,
            only(cert_flags) > 0,
            only(flag(Reason.BEYOND_TRAVEL_LIMIT)) > 0,
            cnt(near & ((f & flag(Reason.NO_MATCHING_SKILL)) != 0)) > 0,
        ],
        [
            "capacity_zero",
            "no_job_within_radius",
            "outcompeted",
            "below_min_score",
            "only_blacklisted_employers",
            "jobs_need_certificate",
            "jobs_beyond_travel_limit",
            "no_job_for_skills",
        ],
        "no_eligible_job_nearby",
    )
    return pd.DataFrame(
        {
            "worker_id": W.ids[who],
            "reason": reason,
            "jobs_within_radius": n_near,
            "eligible_jobs": n_elig,
            "what_would_change": what_would_change(J, q, pj, b, m),
        }
    )


def _scores_at_least(scorer, X, mask, min_score) -> np.ndarray:
    out = np.zeros(len(mask), dtype=bool)
    out[mask] = scorer.match_weight(X[mask]) >= min_score
    return out


def what_would_change(J: JobTable, q, pj, b, m: int) -> np.ndarray:
    """Per unmatched worker: a certificate or a travel radius that would open jobs, as text ('' if none).

    A pair whose only failing constraints are certificate ones becomes eligible with that certificate;
    a pair failing only on distance becomes eligible with a larger radius. The certificate that opens
    the most jobs wins; otherwise the radius that reaches the nearest such job.
    """
    out = np.full(m, "", dtype=object)
    cert_flags = flag(Reason.CERTIFICATE_MISSING) | flag(Reason.CERTIFICATE_EXPIRED)
    dist_flags = flag(Reason.BEYOND_TRAVEL_LIMIT) | flag(Reason.BEYOND_RADIUS)
    open_jobs = ~J.employer_blacklisted[pj]
    cert_only = open_jobs & (b.flags != 0) & ((b.flags & ~cert_flags) == 0) & (b.missing_cert >= 0)
    if cert_only.any():
        df = pd.DataFrame(
            {"q": q[cert_only], "cert": J.req_code[b.missing_cert[cert_only]], "d": b.distance_km[cert_only]}
        )
        agg = df.groupby(["q", "cert"]).agg(jobs=("d", "size"), nearest=("d", "min")).reset_index()
        agg = agg.sort_values(["q", "jobs", "nearest"], ascending=[True, False, True]).drop_duplicates("q")
        out[agg["q"].to_numpy()] = [
            f"a {c} certificate would qualify you for {n} job(s), nearest {d:.1f} km"
            for c, n, d in zip(agg["cert"], agg["jobs"], agg["nearest"], strict=True)
        ]
    dist_only = open_jobs & (b.flags != 0) & ((b.flags & ~dist_flags) == 0)
    if dist_only.any():
        df = pd.DataFrame({"q": q[dist_only], "d": b.distance_km[dist_only], "job": J.ids[pj[dist_only]]})
        best = df.sort_values(["q", "d"]).drop_duplicates("q")
        qs = best["q"].to_numpy()
        empty = out[qs] == ""
        out[qs[empty]] = [
            f"a travel radius of {np.ceil(d):.0f} km would reach job {j}"
            for d, j in zip(best["d"].to_numpy()[empty], best["job"].to_numpy()[empty], strict=True)
        ]
    return out
