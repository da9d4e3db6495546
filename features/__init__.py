"""Pairwise features over (job, worker) pairs and the hard-constraint eligibility mask.

One code path serves training, offline scoring, batch assignment and the API:
:func:`features.pairs.build_pairs` over :class:`features.encode.WorkerTable` and
:class:`features.encode.JobTable`, which returns a :class:`features.pairs.PairBatch` (the float32
feature matrix, distances and eligibility reason codes).

Modules
-------
encode
    Market tables -> flat arrays and CSR matrices the features index into.
history, market
    Point-in-time worker history (event log) and market statistics (trade median wage).
context
    :class:`~features.context.PairContext`: what several families share about a batch of pairs.
distance, skills, certificates, reputation, wages, timing
    The feature families: each declares its :class:`~features.registry.Feature` records and
    computes its columns by name.
registry
    The families' records in column order (``FEATURES``, ``FEATURE_NAMES``, ``FEATURE_INDEX``) and
    :func:`~features.registry.column`, the one way to read a feature by name.
eligibility
    Hard constraints: reason codes and flag sets.
pairs
    :func:`~features.pairs.build_pairs`, which puts it all together.
"""

from gigmatch.core.geo import EARTH_RADIUS_KM, haversine_km

__all__ = ["EARTH_RADIUS_KM", "haversine_km"]
