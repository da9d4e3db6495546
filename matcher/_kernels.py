"""Compiled loops the solver cannot express as whole-array numpy operations (numba, cached on disk).

Both run in O(E) or close to it and are called once per min-cost-flow round, never per edge from
Python.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def top_per_group(group: np.ndarray, key: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Mask of each group's ``quota[g]`` elements with the largest ``key``.

    Parameters
    ----------
    group : int64 array of shape (E,), values in ``[0, len(quota))``
    key : float64 array of shape (E,)
    quota : int64 array of shape (n_groups,)

    Returns
    -------
    bool array of shape (E,). Ties go to the element that comes first, so the mask depends only on
    the arrays, never on chance.
    """
    n_groups = len(quota)
    start = np.zeros(n_groups + 1, np.int64)
    for g in group:
        start[g + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    fill = start[:-1].copy()
    members = np.empty(len(group), np.int64)
    for e in range(len(group)):  # counting sort: members of a group stay in input order
        members[fill[group[e]]] = e
        fill[group[e]] += 1
    keep = np.zeros(len(group), np.bool_)
    for g in range(n_groups):
        seg = members[start[g] : start[g + 1]]
        if len(seg) <= quota[g]:
            keep[seg] = True
        elif quota[g] > 0:
            best = np.argsort(-key[seg], kind="mergesort")[: quota[g]]
            keep[seg[best]] = True
    return keep


@numba.njit(cache=True)
def shortest_distances(indptr: np.ndarray, head: np.ndarray, cost: np.ndarray, max_pops: int):
    """Bellman-Ford with a FIFO queue (SPFA) from a virtual root joined to every node at cost 0.

    Parameters
    ----------
    indptr : int64 array of shape (n + 1,)
        CSR row pointers of the arcs, grouped by tail node.
    head, cost : int64 arrays of shape (A,)
        Head node and integer cost of each arc; costs may be negative.
    max_pops : int
        Give up after this many queue pops (a negative cycle would otherwise never end).

    Returns
    -------
    (distance, ok) : int64 array of shape (n,) (every entry <= 0) and False if ``max_pops`` was hit.
    """
    n = len(indptr) - 1
    distance = np.zeros(n, np.int64)
    queued = np.ones(n, np.bool_)
    queue = np.arange(n + 1, dtype=np.int64)
    first, size, capacity, pops = 0, n, n + 1, 0
    last = n % capacity
    while size > 0:
        u = queue[first]
        first = (first + 1) % capacity
        size -= 1
        queued[u] = False
        pops += 1
        if pops > max_pops:
            return distance, False
        du = distance[u]
        for k in range(indptr[u], indptr[u + 1]):
            v = head[k]
            candidate = du + cost[k]
            if candidate < distance[v]:
                distance[v] = candidate
                if not queued[v]:
                    queued[v] = True
                    queue[last] = v
                    last = (last + 1) % capacity
                    size += 1
    return distance, True


@numba.njit(cache=True)
def shortest_distances_lex(
    indptr: np.ndarray, head: np.ndarray, major: np.ndarray, minor: np.ndarray, max_pops: int
):
    """:func:`shortest_distances` for lexicographic costs ``(major, minor)``, compared major first.

    The ``fill`` objective's certificate: each edge arc costs ``(-1, cost)`` (one more filled slot
    beats any weight), so no single integer scale is needed and nothing can overflow while
    ``n * max|minor|`` fits in 63 bits.

    Parameters
    ----------
    indptr : int64 array of shape (n + 1,)
        CSR row pointers of the arcs, grouped by tail node.
    head, major, minor : int64 arrays of shape (A,)
        Head node and the two cost components of each arc.
    max_pops : int
        Give up after this many queue pops.

    Returns
    -------
    (major, minor, ok) : two int64 arrays of shape (n,) and False if ``max_pops`` was hit.
    """
    n = len(indptr) - 1
    d1 = np.zeros(n, np.int64)
    d2 = np.zeros(n, np.int64)
    queued = np.ones(n, np.bool_)
    queue = np.arange(n + 1, dtype=np.int64)
    first, size, capacity, pops = 0, n, n + 1, 0
    last = n % capacity
    while size > 0:
        u = queue[first]
        first = (first + 1) % capacity
        size -= 1
        queued[u] = False
        pops += 1
        if pops > max_pops:
            return d1, d2, False
        a, b = d1[u], d2[u]
        for k in range(indptr[u], indptr[u + 1]):
            v = head[k]
            c1 = a + major[k]
            c2 = b + minor[k]
            if c1 < d1[v] or (c1 == d1[v] and c2 < d2[v]):
                d1[v] = c1
                d2[v] = c2
                if not queued[v]:
                    queued[v] = True
                    queue[last] = v
                    last = (last + 1) % capacity
                    size += 1
    return d1, d2, True
