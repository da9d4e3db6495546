"""The record a feature family declares each of its columns with, and what a family module provides.

A *feature family* is a module of :mod:`features` (:mod:`features.distance`, :mod:`features.skills`,
...) that owns a few related columns of the pairwise feature matrix: it declares them as
:class:`Feature` records in ``FEATURES`` and computes them in ``compute(ctx)``. The registry
(:mod:`features.registry`) assembles the families' records into the column order; users import
:class:`Feature` from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from features.context import PairContext


@dataclass(frozen=True)
class Feature:
    """One column of the pairwise feature matrix, as documented and as hashed into model artifacts.

    The fields are text; :func:`models.registry.feature_schema_hash` hashes ``name``, ``unit``,
    ``range`` and ``missing``, so changing them changes the schema every trained model records.

    Parameters
    ----------
    name : str
        Column name, unique across families (``snake_case``).
    unit : str
        Unit of the value: ``"km"``, ``"flag"``, ``"fraction"``, ``"log1p count"``, ...
    range : str
        Interval or set of possible values, e.g. ``"[0, 1]"`` or ``"{0, 1}"``.
    missing : str
        What the value is when an input is missing (a prior, 0, NaN, ...).
    doc : str
        One line on what the value means.
    """

    name: str
    unit: str
    range: str
    missing: str
    doc: str


class FeatureFamily(Protocol):
    """What a feature family module provides (modules satisfy this protocol structurally).

    Attributes
    ----------
    FEATURES : tuple of Feature
        The family's columns.
    """

    FEATURES: tuple[Feature, ...]

    def compute(self, ctx: PairContext) -> dict[str, np.ndarray]:
        """The family's columns for every pair of ``ctx``.

        Parameters
        ----------
        ctx : PairContext
            The pairs and what several families share about them.

        Returns
        -------
        dict of str to ndarray of shape (n_pairs,)
            One entry per record of ``FEATURES``, keyed by its name, in the record's unit (bool or
            float64; :func:`features.pairs.build_pairs` casts to float32).
        """
        ...
