"""The scorer contract: what the matcher and the service need from a model, and the one way to load it.

A :class:`Scorer` turns a feature matrix into scores. Two implement it: the learned ranker behind a
registry artifact (:class:`models.registry.ModelScorer`) and the hand-weighted heuristic
(:class:`models.heuristic.HeuristicScorer`), which is the **cold-start** scorer: it serves, and says so
by its version ``heuristic-v1``, wherever no trained model exists yet. :func:`load_scorer` is the only
place that decides which one a path means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from models.heuristic import HeuristicScorer
from models.registry import Registry, RegistryError, load_version


@runtime_checkable
class Scorer(Protocol):
    """Scores (job, worker) pairs from their features.

    Attributes
    ----------
    version : str
        Reported wherever a model version is (API answers, summaries, metrics).
    is_model : bool
        True for a learned model, False for the heuristic.
    """

    version: str
    is_model: bool

    def score(self, X: np.ndarray) -> np.ndarray:
        """Ranking scores of shape (n_pairs,) from features of shape (n_pairs, n_features)."""
        ...

    def match_weight(self, X: np.ndarray) -> np.ndarray:
        """Scores mapped into (0, 1], for the assignment solver, shape (n_pairs,)."""
        ...


def load_scorer(path: str | Path | None) -> Scorer:
    """A registry's current model, a version folder, or (cold start) the heuristic scorer.

    Cold start is no path at all, or an existing registry with no model yet (an empty folder, or a
    registry without a current version). A path that does not exist is refused: it is almost always a
    mistyped one, and serving the heuristic in its place would hide that.

    Raises
    ------
    models.registry.RegistryError
        For a path that does not exist, is neither a registry nor a version folder, or holds a broken
        or incompatible artifact.
    """
    if path is None:
        return HeuristicScorer()
    path = Path(path)
    if not path.exists():
        raise RegistryError(f"{path}: does not exist (give a model registry or version folder, or no model)")
    if (path / "metadata.json").exists():
        return load_version(path)
    reg = Registry(path)
    if (reg.is_registry and reg.current() is None) or (path.is_dir() and not any(path.iterdir())):
        return HeuristicScorer()
    if not reg.is_registry:
        raise RegistryError(f"{path}: neither a model registry nor a model version folder")
    return reg.load_current()
