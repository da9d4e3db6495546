"""Library defaults that more than one layer uses, named once so that every layer reads the same value.

The batch run (:func:`matcher.batch.run_batch`), the API's request schemas and the CLI's options import
these rather than retyping the numbers.
"""

from __future__ import annotations

# km: how far from a job the batch run, or a ranking/assignment request, looks for workers (the radius)
DEFAULT_MAX_KM = 15.0
# candidates retrieved per slot of a job: its CANDIDATES_PER_SLOT * headcount nearest able workers
CANDIDATES_PER_SLOT = 30
# km: a worker's travel limit when the workers table leaves max_travel_km empty (the 15-minute circle)
DEFAULT_MAX_TRAVEL_KM = 15.0
