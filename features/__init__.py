"""Pairwise features over (job, worker) pairs and the hard-constraint eligibility mask.

One code path serves training, offline scoring, batch assignment and the API:
:func:`features.pairs.build_features` over :class:`features.encode.WorkerTable` and
:class:`features.encode.JobTable`.
"""

from gigmatch.core.geo import EARTH_RADIUS_KM, haversine_km

__all__ = ["EARTH_RADIUS_KM", "haversine_km"]
