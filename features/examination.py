"""The examination curve of a logged ranking, estimated from the log itself (issue #17).

It lives in the features layer because the worker history weights each positioned ``shown`` event by
it (:mod:`features.history`, per day with :func:`examination_by_day`, point in time);
:mod:`models.examination` re-exports it for the ranker's early stopping.

A worker shown at position p looks at the offer with a probability ``theta_p`` that falls with p and
does not depend on the worker (the position-based click model); only a worker who looked can apply.
Debiased training (:mod:`models.ranker`) needs an *unbiased* yardstick to pick its number of trees:
NDCG@10 on the logged grades rewards a model for learning the old ranking's position effect back
(a worker shown first applies more often), which stops the debiased fit early. The yardstick used is
DCG@10 with each row's gain weighted by ``1 / theta_p`` of the position it was shown at
(:func:`models.metrics.ips_dcg_at_k`): under the position-based model the weighted logged gain has
the expectation of the gain had the worker examined the offer.

Estimator (:func:`estimate_examination`)
    The curve comes from the logged propensities, ``pi(w, p)``: the probability that the logging
    policy put worker w at position p of its list (n workers). For every list and position p,
    ``a_p / (n pi(w_p, p))``, with ``a_p = 1`` when the worker shown at p applied (or better), has
    expectation ``theta_p * mean_w P(apply | examined, w)``: inverse-propensity weighting undoes the
    policy's choice of who stands at p, as if every worker of the list were equally likely to stand
    there. The list's mean appeal cancels in the ratio with position 1 over the same lists::

        theta_p / theta_1 = sum_lists a_p / (n pi_p)  /  sum_lists(n >= p) a_1 / (n pi_1)

    It needs only that every worker of a list can reach every position (``pi > 0``, e.g. some
    exploration traffic) and that propensities are logged; it assumes neither the shape of the curve
    nor which lists were explored. The raw ratios are made non-increasing in p (weighted isotonic
    regression, weights the number of lists reaching p) and clipped to ``[FLOOR, 1]`` so that no row
    weighs more than ``1 / FLOOR``; positions reached by fewer than ``min_lists`` lists take the last
    well-estimated value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

FLOOR = 0.02  # lowest examination probability used: a row weighs at most 1 / FLOOR = 50


def estimate_examination(
    query: np.ndarray,
    position: np.ndarray,
    propensity: np.ndarray,
    label: np.ndarray,
    *,
    min_lists: int = 30,
) -> np.ndarray | None:
    """Relative examination probability per position, from logged lists (see the module docstring).

    Parameters
    ----------
    query : ndarray of int, shape (n_rows,)
        List (query) id of each row; a list's rows need not be contiguous.
    position : ndarray of float or int, shape (n_rows,)
        1-based position the row was shown at.
    propensity : ndarray of float, shape (n_rows,)
        The logging policy's probability of showing this worker at this position of this list.
    label : ndarray of int, shape (n_rows,)
        Graded label; ``label >= 1`` (applied or better) is the evidence that the offer was examined.
    min_lists : int, default=30
        Positions reached by fewer lists take the value of the last position reached by more.

    Returns
    -------
    ndarray of float64, shape (max_position + 1,), or None
        ``curve[p]`` for p = 1..max_position, ``curve[1] <= 1`` (1 unless pooled with position 2),
        non-increasing, in ``[FLOOR, 1]``; ``curve[0]`` is 1 (rows of unknown position are weighed as
        examined). None when the curve cannot be estimated: a row without a position or a positive
        propensity, a list whose positions are not 1..n, or no application at position 1.
    """
    position = np.asarray(position, dtype=float)
    propensity = np.asarray(propensity, dtype=float)
    if len(position) == 0 or not (np.isfinite(position).all() and np.isfinite(propensity).all()):
        return None
    if (propensity <= 0).any() or (position < 1).any():
        return None
    _, lst = np.unique(np.asarray(query), return_inverse=True)
    pos = position.astype(np.int64)
    n = np.bincount(lst)
    order = np.lexsort((pos, lst))  # positions 1..n exactly once per list
    starts = np.r_[0, np.cumsum(n)[:-1]]
    if not np.array_equal(pos[order], np.arange(len(pos)) - np.repeat(starts, n) + 1):
        return None
    w = (np.asarray(label) >= 1) / (n[lst] * propensity)
    max_p = int(n.max())
    num = np.bincount(pos, weights=w, minlength=max_p + 1)
    first = np.bincount(lst[pos == 1], weights=w[pos == 1], minlength=len(n))
    # lists reaching position p, and their position-1 values summed: suffix sums over list sizes
    lists_at = np.cumsum(np.bincount(n, minlength=max_p + 1)[::-1])[::-1]
    den = np.cumsum(np.bincount(n, weights=first, minlength=max_p + 1)[::-1])[::-1]
    if den[1] <= 0:
        return None
    ok = np.flatnonzero((lists_at >= min_lists) & (den > 0))
    ok = ok[ok >= 1]
    last = int(ok.max()) if len(ok) else 1
    p = np.arange(1, last + 1)
    raw = num[p] / np.where(den[p] > 0, den[p], np.inf)
    fitted = IsotonicRegression(increasing=False, y_min=FLOOR, y_max=1.0).fit(
        p, raw, sample_weight=lists_at[p]
    )
    curve = np.ones(max_p + 1)
    curve[1 : last + 1] = fitted.predict(p)
    curve[last + 1 :] = curve[last]
    return curve


def examination_weights(position: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Inverse examination weight of each row, ``1 / curve[position]``.

    Parameters
    ----------
    position : ndarray of float or int, shape (n_rows,)
        1-based positions; NaN or 0 for unknown (weight ``1 / curve[0]`` = 1). Positions beyond the
        curve take its last value.
    curve : ndarray of float64, shape (max_position + 1,)
        From :func:`estimate_examination`.

    Returns
    -------
    ndarray of float64, shape (n_rows,), each in ``[1, 1 / FLOOR]``
    """
    return 1.0 / examination_probability(position, curve)


def examination_probability(position: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Examination probability of each row, ``curve[position]`` (relative to position 1).

    Parameters
    ----------
    position : ndarray of float or int, shape (n_rows,)
        1-based positions; NaN or 0 for unknown (``curve[0]`` = 1: weighed as examined). Positions
        beyond the curve take its last value.
    curve : ndarray of float64, shape (max_position + 1,)
        From :func:`estimate_examination`.

    Returns
    -------
    ndarray of float64, shape (n_rows,), each in ``[FLOOR, 1]``
    """
    position = np.asarray(position, dtype=float)
    pos = np.where(np.isfinite(position), position, 0).astype(np.int64)
    return curve[np.clip(pos, 0, len(curve) - 1)]


SECONDS_PER_DAY = 86_400


def examination_by_day(
    shown: pd.DataFrame, applied: pd.DataFrame, days: np.ndarray, *, min_lists: int = 30
) -> dict[int, np.ndarray | None]:
    """The examination curve as known at the start of each of ``days``, point in time.

    For day ``D`` (starting at ``D * 86400`` market seconds) the curve is :func:`estimate_examination`
    over the lists *complete* before D (every positioned ``shown`` row of the job logged before D),
    a row counting as applied when its ``applied`` event was logged before D. Nothing logged on or
    after D is used, so appending later days to a log never changes an earlier day's curve. Lists
    whose rows are not positions 1..n exactly once, or carry no positive propensity, are left out
    (the estimator would refuse the whole log for one of them).

    Parameters
    ----------
    shown : DataFrame
        ``job_id``, ``worker_id``, ``ts_s`` (int seconds), ``position`` (>= 1), ``propensity``: the
        first positioned ``shown`` event of each (job, worker) pair.
    applied : DataFrame
        ``job_id``, ``worker_id``, ``ts_s``: ``applied`` events.
    days : ndarray of int
        Day numbers (``ts_s // 86400``) to estimate for.
    min_lists : int, default=30
        As in :func:`estimate_examination`.

    Returns
    -------
    dict of int to ndarray or None
        Day number to curve (as from :func:`estimate_examination`; None: not estimable yet).
    """
    out: dict[int, np.ndarray | None] = {int(d): None for d in np.unique(np.asarray(days, dtype=np.int64))}
    if not out or not len(shown):
        return out
    # canonical order, so that the result does not depend on the order the log arrived in
    shown = (
        shown.sort_values(["job_id", "worker_id", "ts_s", "position"], kind="stable")
        .drop_duplicates(["job_id", "worker_id"])  # the pair's first showing
        .reset_index(drop=True)
    )
    job, pos = pd.factorize(shown["job_id"], sort=True)[0], shown["position"].to_numpy(dtype=float)
    prop, ts = shown["propensity"].to_numpy(dtype=float), shown["ts_s"].to_numpy(dtype=np.int64)
    n = np.bincount(job)
    ok_row = np.isfinite(prop) & (prop > 0) & np.isfinite(pos) & (pos >= 1) & (pos <= n[job])
    # a list is valid when its positions are 1..n exactly once: n rows, all distinct and in range
    seen = pd.Series(pos[ok_row]).groupby(job[ok_row]).nunique()
    valid = np.zeros(len(n), dtype=bool)
    valid[seen.index.to_numpy()] = seen.to_numpy() == n[seen.index.to_numpy()]
    valid &= np.bincount(job, weights=~ok_row, minlength=len(n)) == 0
    complete_at = pd.Series(ts).groupby(job).max().to_numpy()  # the list's last row's time
    # time of the pair's first application (NaN: none)
    first_apply = applied.groupby(["job_id", "worker_id"])["ts_s"].min() if len(applied) else None
    apply_ts = np.full(len(shown), np.nan)
    if first_apply is not None:
        at = first_apply.index.get_indexer(pd.MultiIndex.from_frame(shown[["job_id", "worker_id"]]))
        apply_ts[at >= 0] = first_apply.to_numpy(dtype=float)[at[at >= 0]]
    for d in out:
        start = d * SECONDS_PER_DAY
        lists = valid & (complete_at < start)
        rows = np.flatnonzero(lists[job])
        if len(rows) == 0:
            continue
        label = (apply_ts[rows] < start).astype(np.int64)
        out[d] = estimate_examination(job[rows], pos[rows], prop[rows], label, min_lists=min_lists)
    return out
