"""Compiled sweep for :mod:`matcher.shifts`: each worker's maximal groups of mutually overlapping jobs.

Intervals of one worker form an interval graph; its maximal cliques are found by one sweep over the
worker's intervals in start order (a clique closes when an interval ends before the next one
starts), O(E log E) for the sort plus the output size.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def worker_cliques(ptr: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Maximal cliques (of two or more) of overlapping intervals, per worker.

    Parameters
    ----------
    ptr : int64 array of shape (n_workers + 1,)
        Worker ``w``'s intervals are ``ptr[w]:ptr[w + 1]`` of the arrays below, sorted by start.
    start, end : float64 arrays of shape (E,)
        Half-open intervals ``[start, end)``; ``end`` already includes the required gap.

    Returns
    -------
    clique_ptr : int64 array of shape (n_cliques + 1,)
    members : int64 array of shape (n_members,)
        Positions (into ``start``) of clique ``c``'s intervals: ``members[clique_ptr[c]:clique_ptr[c+1]]``.
    """
    n_workers = len(ptr) - 1
    # Each clique is identified by its last-starting interval i: the intervals k <= i (same worker)
    # still open at start[i]. It is maximal when no later interval starts before one of them ends.
    out_ptr = [0]
    members = []
    for w in range(n_workers):
        a, b = ptr[w], ptr[w + 1]
        for i in range(a, b):
            min_end = end[i]
            count = 0
            for k in range(a, i + 1):
                if end[k] > start[i]:
                    count += 1
                    if end[k] < min_end:
                        min_end = end[k]
            if count < 2:
                continue
            if i + 1 < b and start[i + 1] < min_end:
                continue  # the next interval still overlaps all of them: the clique grows
            for k in range(a, i + 1):
                if end[k] > start[i]:
                    members.append(k)
            out_ptr.append(len(members))
    return np.array(out_ptr, dtype=np.int64), np.array(members, dtype=np.int64)
