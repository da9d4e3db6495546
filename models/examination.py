"""The examination curve of a logged ranking (issue #17): re-exported from :mod:`features.examination`.

The estimator lives in the features layer because worker-history features weight each ``shown``
event by it (:mod:`features.history`); models use it to early-stop debiased fits
(:mod:`models.ranker`). One implementation, two importers.
"""

from __future__ import annotations

from features.examination import FLOOR, estimate_examination, examination_weights

__all__ = ["FLOOR", "estimate_examination", "examination_weights"]
