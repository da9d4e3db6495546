"""Scale-out training with ``lightgbm.dask.DaskLGBMRanker`` on a Dask cluster.

Each Dask partition holds whole queries (LightGBM's Dask ranker requires that a query never spans
partitions); partitions are cut at query boundaries into about one per worker.
"""

from __future__ import annotations

import numpy as np

from models.dataset import TrainingSet
from models.ranker import GigRanker


def fit_dask(
    ranker: GigRanker,
    train: TrainingSet,
    client,
    valid: TrainingSet | None = None,
    n_partitions: int | None = None,
) -> GigRanker:
    """Fit ``ranker`` on the cluster behind ``client``; ``valid`` picks the number of trees."""
    import dask.array as da
    from lightgbm.dask import DaskLGBMRanker

    sizes = train.group_sizes
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n_parts = max(1, min(n_partitions or n_workers, len(sizes)))
    # cut at query boundaries into n_parts chunks of about equal rows
    q_ends = np.cumsum(sizes)
    cuts = np.searchsorted(q_ends, np.linspace(0, q_ends[-1], n_parts + 1)[1:-1])
    q_bounds = np.r_[0, np.unique(cuts + 1), len(sizes)]
    row_bounds = np.r_[0, q_ends][q_bounds]
    row_chunks = tuple(int(b - a) for a, b in zip(row_bounds[:-1], row_bounds[1:], strict=True) if b > a)
    group_chunks = tuple(int(b - a) for a, b in zip(q_bounds[:-1], q_bounds[1:], strict=True) if b > a)
    X = da.from_array(train.X, chunks=(row_chunks, train.X.shape[1]))
    y = da.from_array(train.y, chunks=(row_chunks,))
    g = da.from_array(sizes, chunks=(group_chunks,))
    params = {k: v for k, v in ranker.params.items() if k != "n_jobs"}
    model = DaskLGBMRanker(client=client, random_state=ranker.random_state, **params)
    model.fit(X, y, group=g)
    ranker.model_ = model.to_local()
    if valid is not None and len(valid.y):
        ranker.best_iteration_ = best_iteration(ranker, valid)
    return ranker


def best_iteration(ranker: GigRanker, valid: TrainingSet, step: int = 10) -> int:
    """Tree count with the best validation NDCG@10: early stopping after the fact, because
    ``lightgbm.dask`` trains all rounds (it has no early stopping)."""
    from models.metrics import ndcg_at_k

    n_trees = ranker.model_.booster_.num_trees()
    g = valid.meta["query"].to_numpy()
    candidates = sorted({*range(step, n_trees + 1, step), n_trees})
    scores = []
    for k in candidates:
        ranker.best_iteration_ = k
        scores.append(ndcg_at_k(g, valid.y, ranker.predict(valid.X)))
    return int(candidates[int(np.argmax(scores))])
