"""Why a batch run left a slot open or a worker without a job, and what would change it (事事有回音).

:func:`matcher.batch.run_batch` calls :func:`unfilled_jobs` and :func:`unmatched_workers` after solving;
the ranking API (:mod:`service.ranking`) phrases single answers with :func:`explain_exclusions` and
:func:`what_would_change`.

Unfilled job reasons (first that applies)
    ``employer_blacklisted``               the employer is on the wage-arrears blacklist
    ``no_worker_within_radius``            nobody lives within ``max_km``
    ``certificate_nobody_nearby_holds``    candidates exist, but none holds the required certificate
    ``no_skilled_worker_nearby``           candidates exist, but none has the skill or a related one
    ``beyond_workers_travel_limits``       candidates exist, but all are farther than they will travel
    ``hours_do_not_fit``                   candidates exist, but the job lies outside all their hours
                                           or daily caps (multi-day runs, :mod:`matcher.shifts`)
    ``no_eligible_worker``                 candidates exist, each excluded for a mix of the above
    ``below_min_score``                    eligible workers exist, but none scores ``min_score``
    ``too_few_eligible_workers``           every eligible worker was assigned here; still short
    ``eligible_workers_taken_by_better_matches``  eligible workers went to jobs where they fit better
    ``busy_with_other_job``                every eligible worker left holds an overlapping job
                                           (multi-day runs; set by :mod:`matcher.shifts`)

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

import numpy as np
import pandas as pd

from features.eligibility import Reason, flag
from features.encode import JobTable, WorkerTable
from features.history import WorkerHistory
from features.pairs import PairBatch, build_pairs
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.core.wording import plural, verb, with_article  # the English helpers of these templates
from matcher.retrieval import GeoIndex

__all__ = ["plural", "verb", "with_article"]  # and the message builders below

SUGGESTION_JOBS_PER_WORKER = 30  # nearest jobs examined per unmatched worker for "what would change"


def _per_job(pj: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Pairs per job among those where ``mask`` holds, shape (n,)."""
    return np.bincount(pj[mask], minlength=n)


def unfilled_jobs(
    J: JobTable,
    pj: np.ndarray,
    batch: PairBatch,
    eligible: np.ndarray,
    usable: np.ndarray,
    chosen: np.ndarray,
    anyone_near: np.ndarray,
    taxonomy: Taxonomy,
    max_km: float,
) -> pd.DataFrame:
    """One row per job left with open slots, with the first reason that applies (module docstring).

    Parameters
    ----------
    J : JobTable
        The batch's jobs (``n_jobs`` rows).
    pj : int array of shape (n_pairs,)
        Job of each candidate pair, grouped by job in ascending order (as retrieval emits them).
    batch : PairBatch
        Features and eligibility of the candidate pairs, aligned with ``pj``.
    eligible, usable, chosen : bool arrays of shape (n_pairs,)
        Pairs passing every hard constraint; eligible pairs scoring at least ``min_score``; pairs in
        the assignment.
    anyone_near : int array of shape (n_jobs,)
        Workers of any trade within ``max_km`` of each job.
    taxonomy : Taxonomy
        The market's vocabulary, to say where a certificate requirement comes from.
    max_km : float
        The batch's retrieval radius, km.

    Returns
    -------
    pandas.DataFrame
        Columns ``job_id``, ``trade``, ``open_slots``, ``reason``, ``candidates_within_radius``,
        ``eligible_candidates`` and ``detail`` (a sentence when no candidate was eligible, else "").
    """
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
            (n_elig == 0) & (by[Reason.HOURS_DO_NOT_FIT] == cand),
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
            Reason.HOURS_DO_NOT_FIT.code,
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
    J: JobTable, j: int, batch: PairBatch, rows: np.ndarray, taxonomy: Taxonomy, max_km: float
) -> str:
    """Why none of a job's candidates ``rows`` (positions in ``batch``) is eligible, in one sentence.

    Names the reasons by how many candidates they exclude and, for certificates, which ones and where
    the requirement comes from (the trade's rule in the market's vocabulary or the built-in taxonomy,
    or the job's own list), so that a vocabulary mismatch shows as what it is.

    Parameters
    ----------
    J : JobTable
        The jobs; ``j`` indexes its rows.
    j : int
        The job.
    batch : PairBatch
        Eligibility of pairs, among them the job's candidates.
    rows : int array of shape (n_candidates,)
        Positions in ``batch`` of job ``j``'s candidate pairs, none of them eligible.
    taxonomy : Taxonomy
        The market's vocabulary.
    max_km : float
        The radius the candidates were retrieved within, km.

    Returns
    -------
    str
        E.g. ``"none of the 12 workers nearby is eligible: 9 lack certificate welding_cert (required
        by trade welding in the built-in taxonomy); 3 live farther than they will travel"``.
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
            how = (
                verb(count, "lacks", "lack")
                if r == Reason.CERTIFICATE_MISSING
                else verb(count, "holds an expired", "hold an expired")
            )
            parts.append(f"{count} {how} certificate {top} ({certificate_source(J, j, top, taxonomy)})")
        elif r == Reason.NO_MATCHING_SKILL:
            parts.append(
                f"{count} {verb(count, 'does', 'do')} not list {J.trade_code[j]} or a related trade "
                f"({taxonomy.describe_trade_rule(J.trade_code[j])})"
            )
        elif r == Reason.BEYOND_TRAVEL_LIMIT:
            parts.append(f"{count} {verb(count, 'lives', 'live')} farther than they will travel")
        elif r == Reason.BEYOND_RADIUS:
            parts.append(f"{count} {verb(count, 'lives', 'live')} beyond {max_km:g} km")
        elif r == Reason.EMPLOYER_BLACKLISTED:
            return "the employer is on the wage-arrears blacklist (欠薪黑名单): never matched"
    head = (
        "the only worker nearby is not eligible"
        if total == 1
        else f"none of the {total} workers nearby is eligible"
    )
    return f"{head}: " + "; ".join(parts)


def certificate_source(J: JobTable, j: int, cert: str, taxonomy: Taxonomy) -> str:
    """Where job ``j``'s requirement of ``cert`` comes from, in words.

    Parameters
    ----------
    J : JobTable
        The jobs; ``j`` indexes its rows.
    j : int
        The job.
    cert : str
        A certificate code the job requires.
    taxonomy : Taxonomy
        The market's vocabulary.

    Returns
    -------
    str
        ``"required by trade T in the built-in taxonomy"`` (or ``"... in the market's trades table"``),
        or ``"listed by the job itself"``.
    """
    trade = J.trade_code[j]
    if cert in taxonomy.required_certificates(trade):
        where = "the built-in taxonomy" if taxonomy.is_built_in else "the market's trades table"
        return f"required by trade {trade} in {where}"
    return "listed by the job itself"


def unmatched_workers(
    W: WorkerTable,
    J: JobTable,
    H: WorkerHistory,
    asof: float,
    assigned_workers: np.ndarray,
    scorer,
    worker_capacity: int,
    max_km: float,
    min_score: float | None,
) -> pd.DataFrame:
    """Reasons for every worker left without a job, from each worker's own nearest jobs.

    Worker-centric on purpose: job-side candidate preselection must not make a worker who lives near
    jobs look as if nothing were near. Each unmatched worker's ``SUGGESTION_JOBS_PER_WORKER`` nearest
    jobs are checked afresh.

    Parameters
    ----------
    W, J : WorkerTable, JobTable
        The batch's workers and jobs.
    H : WorkerHistory
        The workers' event history, for the features.
    asof : float
        Time the history is taken at, market time in seconds since the epoch.
    assigned_workers : int array of shape (n_assigned,)
        Worker of each assignment (a worker may appear more than once).
    scorer : object
        ``match_weight(X) -> (n_pairs,)``, the batch's scorer.
    worker_capacity : int
        Jobs one worker may take in the batch.
    max_km : float
        The batch's radius, km.
    min_score : float or None
        The batch's minimum score.

    Returns
    -------
    pandas.DataFrame
        Columns ``worker_id``, ``reason``, ``jobs_within_radius``, ``eligible_jobs`` and
        ``what_would_change`` (see :func:`what_would_change`), one row per unmatched worker.
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
    """``mask`` narrowed to the pairs ``scorer`` scores at least ``min_score``."""
    out = np.zeros(len(mask), dtype=bool)
    out[mask] = scorer.match_weight(X[mask]) >= min_score
    return out


def what_would_change(J: JobTable, q: np.ndarray, pj: np.ndarray, b: PairBatch, m: int) -> np.ndarray:
    """Per unmatched worker: a certificate or a travel radius that would open jobs, as text ('' if none).

    A pair whose only failing constraints are certificate ones becomes eligible with that certificate;
    a pair failing only on distance becomes eligible with a larger radius. The certificate that opens
    the most jobs wins; otherwise the radius that reaches the nearest such job.

    Parameters
    ----------
    J : JobTable
        The jobs; ``pj`` indexes its rows.
    q : int array of shape (n_pairs,)
        Which of the ``m`` workers each pair belongs to, in ``[0, m)``.
    pj : int array of shape (n_pairs,)
        Job of each pair.
    b : PairBatch
        Eligibility (``flags``, ``missing_cert``, ``distance_km``) of the pairs.
    m : int
        Number of workers asked about.

    Returns
    -------
    object array of shape (m,)
        ``"a C certificate would qualify you for N jobs, nearest D km"`` (``an``, ``1 job`` as the
        words need),
        ``"a travel radius of R km would reach job J"`` (R rounded up to whole km) or ``""``.
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
            f"{with_article(f'{c} certificate')} would qualify you for {plural(n, 'job')}, nearest {d:.1f} km"
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
