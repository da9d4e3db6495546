"""Hard constraints: reason codes for pairs that must never be matched.

Every excluded pair carries a reason so that the exclusion can be explained to a worker or operator
(事事有回音). ``reason`` holds the first failing constraint in the priority order below; ``flags`` holds
all of them as a bit set (bit ``code - 1``), which the "what would change it" answers use: a pair
whose only flag is ``CERTIFICATE_MISSING`` becomes eligible with that certificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np


class Reason(IntEnum):
    """Why a pair is excluded, in priority order (lower first). 0 means eligible."""

    ELIGIBLE = 0
    EMPLOYER_BLACKLISTED = 1  # wage arrears: never matched
    CERTIFICATE_MISSING = 2  # a required certificate is not held
    CERTIFICATE_EXPIRED = 3  # held, but expired before the job's start day
    NO_MATCHING_SKILL = 4  # skilled trade and neither the skill nor a related one
    BEYOND_TRAVEL_LIMIT = 5  # farther than the worker's max_travel_km
    BEYOND_RADIUS = 6  # farther than the request's max_km
    HOURS_DO_NOT_FIT = 7  # the job lies outside the worker's weekly hours or beyond their daily cap
    BUSY_WITH_OTHER_JOB = 8  # the worker holds an overlapping job (with the gap) already

    @property
    def code(self) -> str:
        """The reason's stable text code, its name in lower case, e.g. ``"certificate_missing"``."""
        return self.name.lower()


REASON_TEXT = {
    Reason.EMPLOYER_BLACKLISTED: "employer is blacklisted for unpaid wages",
    Reason.CERTIFICATE_MISSING: "a required certificate is missing",
    Reason.CERTIFICATE_EXPIRED: "a required certificate expires before the job starts",
    Reason.NO_MATCHING_SKILL: "the trade needs a skill the worker has not listed",
    Reason.BEYOND_TRAVEL_LIMIT: "farther than the worker will travel",
    Reason.BEYOND_RADIUS: "outside the requested radius",
    Reason.HOURS_DO_NOT_FIT: "the job's hours lie outside the worker's available hours or daily cap",
    Reason.BUSY_WITH_OTHER_JOB: "the worker already holds a job at an overlapping time",
}


_N_FLAGS = len(Reason) - 1
# lowest set bit of every possible flag set -> its Reason code
_FIRST = np.array([0] + [(v & -v).bit_length() for v in range(1, 2**_N_FLAGS)], dtype=np.int8)


def constraint_flags(failing: Mapping[Reason, np.ndarray], n_pairs: int) -> np.ndarray:
    """Every failing constraint of each pair as a bit set (bit ``code - 1``).

    Parameters
    ----------
    failing : mapping of Reason to ndarray of bool, shape (n_pairs,)
        For each constraint checked, where it fails. Constraints not in the mapping never fail.
    n_pairs : int
        Number of pairs (the mapping may be empty).

    Returns
    -------
    ndarray of int16, shape (n_pairs,); 0 where every constraint holds.
    """
    flags = np.zeros(n_pairs, dtype=np.int16)
    for reason, fails in failing.items():
        flags |= np.where(fails, flag(reason), 0).astype(np.int16)
    return flags


def first_reason(flags: np.ndarray) -> np.ndarray:
    """Lowest set bit of each flag set, as a :class:`Reason` code (0 where no bit is set)."""
    return _FIRST[flags.astype(np.intp)]


def flag(reason: Reason) -> int:
    """The bit of ``reason`` in a flag set: ``1 << (code - 1)``."""
    return 1 << (int(reason) - 1)


def count_reasons(reason: np.ndarray) -> dict[str, int]:
    """{reason_code: count} over excluded pairs."""
    codes, counts = np.unique(reason[reason > 0], return_counts=True)
    return {Reason(int(c)).code: int(n) for c, n in zip(codes, counts, strict=True)}
