"""Ranking metrics over many queries at once (vectorised over rows, no loop over queries).

All functions take ``group`` (query id per row), ``y`` (graded label per row) and ``score`` (higher
ranks first; ties broken by row order) and return the mean over queries. Gains are ``2**label - 1``
(:func:`models.labels.label_gain`).
Queries with no relevant row count as 0 for NDCG/MAP/recall (the LightGBM convention counts them as
1 for NDCG; we exclude nothing so that models and baselines see the same denominator).
"""

from __future__ import annotations

import numpy as np

from models.labels import label_gain


def _ranks(group: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order sorting rows by group then descending score, 0-based rank of each sorted row)."""
    order = np.lexsort((np.arange(len(group)), -score, group))
    g = group[order]
    start = np.maximum.accumulate(np.where(np.r_[True, g[1:] != g[:-1]], np.arange(len(g)), 0))
    return order, np.arange(len(g)) - start


def _per_query(group_sorted: np.ndarray, values: np.ndarray) -> np.ndarray:
    _, inv = np.unique(group_sorted, return_inverse=True)
    return np.bincount(inv, weights=values)


def ndcg_at_k(group: np.ndarray, y: np.ndarray, score: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k over queries: gain ``2**label - 1``, discount ``1 / log2(rank + 2)`` (rank from 0).

    Parameters
    ----------
    group : ndarray of shape (n_rows,)
        Query id of each row; a query's rows need not be contiguous.
    y : ndarray of shape (n_rows,), int
        Graded label of each row, 0..MAX_LABEL.
    score : ndarray of shape (n_rows,), float
        Higher ranks first; ties keep row order.
    k : int, default=10
        Rows ranked below ``k`` add nothing.

    Returns
    -------
    float in [0, 1]; a query whose labels are all 0 counts as 0.
    """
    order, rank = _ranks(group, score)
    disc = np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)
    gain = label_gain(y[order])
    dcg = _per_query(group[order], gain * disc)
    ideal_order, ideal_rank = _ranks(group, y.astype(float))
    idisc = np.where(ideal_rank < k, 1.0 / np.log2(ideal_rank + 2.0), 0.0)
    idcg = _per_query(group[ideal_order], label_gain(y[ideal_order]) * idisc)
    return float(np.mean(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)))


def ips_dcg_at_k(
    group: np.ndarray, y: np.ndarray, score: np.ndarray, weight: np.ndarray, k: int = 10
) -> float:
    """Mean DCG@k over queries with each row's gain multiplied by ``weight`` (an inverse examination probability).

    With ``weight = 1 / theta_p`` of the position a row was shown at (:mod:`models.examination`), the
    weighted gain of a logged grade has the expectation of the gain had the worker examined the offer,
    and the mean DCG, linear in the gains, is an unbiased estimate of the mean DCG against the grades
    as if every offer had been looked at. It is not normalised per query: dividing by each query's
    ideal DCG of its own weighted gains, a ratio of two noisy sums, made the estimate noisy enough to
    stop fits early on a small validation set (measured, README #17).

    Parameters
    ----------
    group, y, score : ndarray of shape (n_rows,)
        Query id, graded label and score of each row, as in :func:`ndcg_at_k`.
    weight : ndarray of shape (n_rows,), float, > 0
        Multiplier of each row's gain ``2**label - 1``.
    k : int, default=10
        Rows ranked below ``k`` add nothing.

    Returns
    -------
    float >= 0, the mean over queries of ``sum_{rank < k} weight * gain / log2(rank + 2)`` (rank from 0).
    """
    gain = label_gain(y) * np.asarray(weight, dtype=float)
    order, rank = _ranks(group, score)
    dcg = _per_query(group[order], gain[order] * np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0))
    return float(np.mean(dcg)) if len(dcg) else 0.0


def mean_average_precision(group: np.ndarray, y: np.ndarray, score: np.ndarray, threshold: int = 1) -> float:
    """Mean over queries of average precision over the whole ranking, rows with ``y >= threshold`` relevant.

    Parameters
    ----------
    group, y, score : ndarray of shape (n_rows,)
        Query id, graded label and score of each row, as in :func:`ndcg_at_k`.
    threshold : int, default=1
        Lowest label that counts as relevant (1: applied or better).

    Returns
    -------
    float in [0, 1]; a query with no relevant row counts as 0.
    """
    order, rank = _ranks(group, score)
    rel = (y[order] >= threshold).astype(float)
    g = group[order]
    cum_rel = np.cumsum(rel) - np.repeat(*_group_offsets(g, np.cumsum(rel)))
    precision_at_hit = np.where(rel > 0, cum_rel / (rank + 1.0), 0.0)
    n_rel = _per_query(g, rel)
    return float(np.mean(np.where(n_rel > 0, _per_query(g, precision_at_hit) / np.maximum(n_rel, 1), 0.0)))


def recall_at_k(
    group: np.ndarray, y: np.ndarray, score: np.ndarray, k: int = 10, threshold: int = 1
) -> float:
    """Mean over queries of the share of relevant rows (``y >= threshold``) ranked in the top ``k``.

    Parameters
    ----------
    group, y, score : ndarray of shape (n_rows,)
        Query id, graded label and score of each row, as in :func:`ndcg_at_k`.
    k : int, default=10
        Cut-off rank.
    threshold : int, default=1
        Lowest label that counts as relevant.

    Returns
    -------
    float in [0, 1]; a query with no relevant row counts as 0.
    """
    order, rank = _ranks(group, score)
    rel = (y[order] >= threshold).astype(float)
    g = group[order]
    n_rel = _per_query(g, rel)
    hit = _per_query(g, rel * (rank < k))
    return float(np.mean(np.where(n_rel > 0, hit / np.maximum(n_rel, 1), 0.0)))


def _group_offsets(g: np.ndarray, cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value before each group's first row, group sizes) for turning a global cumsum into per-group."""
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    before = np.r_[0.0, cum][starts]
    sizes = np.diff(np.r_[starts, len(g)])
    return before, sizes
