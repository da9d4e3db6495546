"""The examination curve of a logged ranking, estimated from the log itself (issue #17).

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
    position = np.asarray(position, dtype=float)
    pos = np.where(np.isfinite(position), position, 0).astype(np.int64)
    return 1.0 / curve[np.clip(pos, 0, len(curve) - 1)]
