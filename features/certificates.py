"""Certificate features, and the certificate check the eligibility flags use.

A job requires its trade's certificates plus its own (``jobs.req_ptr``/``req_cert``, CSR). A
certificate counts when the worker holds it and it is valid through the job's start day (its expiry
day inclusive). :func:`check` does the per-pair work once per batch; :func:`compute` turns it into
features, and :func:`features.pairs.build_pairs` turns it into the ``certificate_missing`` and
``certificate_expired`` flags and ``PairBatch.missing_cert``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.context import PairContext
from features.encode import csr_lookup
from features.schema import Feature

FEATURES: tuple[Feature, ...] = (
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
)


@dataclass(frozen=True)
class CertificateCheck:
    """Required certificates against held ones, per pair; every array has shape (n_pairs,).

    Attributes
    ----------
    required : ndarray of float64
        Number of certificates the job requires.
    satisfied : ndarray of float64
        How many of them the worker holds, valid at the start day.
    missing : ndarray of bool
        Some required certificate is not held.
    expired : ndarray of bool
        Some required certificate is held but expires before the start day.
    first_bad : ndarray of int64
        Index into ``jobs.req_code`` of the first required certificate that is missing or expired,
        -1 when none.
    """

    required: np.ndarray
    satisfied: np.ndarray
    missing: np.ndarray
    expired: np.ndarray
    first_bad: np.ndarray


def check(ctx: PairContext) -> CertificateCheck:
    """The certificate check for every pair of ``ctx``, computed once per context.

    Vectorised over the (pair, required certificate) entries: one CSR lookup, then per-pair sums.

    Parameters
    ----------
    ctx : PairContext
        Uses the job's required certificates, the worker's certificates and ``start_day``.

    Returns
    -------
    CertificateCheck
    """
    return ctx.once(_check)


def _check(ctx: PairContext) -> CertificateCheck:
    jobs, job, worker, start_day = ctx.jobs, ctx.job, ctx.worker, ctx.start_day
    n_req = (jobs.req_ptr[1:] - jobs.req_ptr[:-1])[job]
    total = int(n_req.sum())
    pair_of = np.repeat(np.arange(len(job)), n_req)
    entry = np.repeat(jobs.req_ptr[job], n_req) + (
        np.arange(total) - np.repeat(np.cumsum(n_req) - n_req, n_req)
    )
    cert = jobs.req_cert[entry]
    expiry = csr_lookup(ctx.workers.certificates, worker[pair_of], cert, missing=np.nan)
    held = ~np.isnan(expiry)
    valid = held & (expiry >= start_day[pair_of])  # valid through its expiry day, inclusive
    satisfied = np.bincount(pair_of, weights=valid, minlength=len(job))
    missing = np.bincount(pair_of, weights=~held, minlength=len(job)) > 0
    expired = np.bincount(pair_of, weights=held & ~valid, minlength=len(job)) > 0
    first_bad = np.full(len(job), -1, dtype=np.int64)
    bad = np.flatnonzero(~valid)
    first_bad[pair_of[bad[::-1]]] = entry[bad[::-1]]  # reversed so the first bad entry wins
    return CertificateCheck(
        required=n_req.astype(np.float64),
        satisfied=satisfied,
        missing=missing,
        expired=expired,
        first_bad=first_bad,
    )


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Certificate columns for every pair.

    Parameters
    ----------
    ctx : PairContext

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``certs_required`` (count, float64), ``certs_satisfied_frac`` (fraction in [0, 1], float64;
        1 when none required) and ``restricted_without_licence`` (bool).
    """
    c = check(ctx)
    return {
        "certs_required": c.required,
        "certs_satisfied_frac": np.where(c.required > 0, c.satisfied / np.maximum(c.required, 1), 1.0),
        "restricted_without_licence": ctx.jobs.restricted[ctx.job] & ~(c.satisfied == c.required),
    }
