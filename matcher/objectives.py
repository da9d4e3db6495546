"""What an optimal assignment maximises: the registry of objectives the solver, the batch run, the CLI
and the API share.

An :class:`Objective` is named by a string (``"fill"``, ``"weight"``) at every boundary and is resolved
here, once, by :func:`get_objective`. Each carries the few facts that make it what it is; the solver
(:mod:`matcher.solver`) asks it what to do at each step instead of comparing names:

======================  ==========================================  ===================================
solver step             question asked                              answered by
======================  ==========================================  ===================================
edge filter             which edges can ever be chosen?             :meth:`Objective.choosable`
dense assignment (LSA)  what is an edge worth in the dense matrix?  :meth:`Objective.dense_values`
dense assignment (LSA)  which of the LSA's picks are kept?          :meth:`Objective.dense_keep`
min-cost flow           zero-cost source -> sink bypass arc?        :attr:`Objective.flow_bypass`
min-cost flow           OR-Tools' max-flow-with-min-cost mode?      :attr:`Objective.cardinality_first`
min-cost flow           pruned solve + dual certificate?            :attr:`Objective.prune`
======================  ==========================================  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Objective:
    """One way to rank feasible assignments (sets of edges within every capacity).

    Instances are immutable and picklable (they travel to Dask workers inside a subproblem); compare
    them by value or by :attr:`name`, not by identity.

    Parameters
    ----------
    name : str
        The name callers pass (``objective="fill"``); the key in :data:`OBJECTIVES`.
    description : str
        One line for help texts and API documentation.
    cardinality_first : bool
        Maximise the number of chosen edges (filled slots) first, and total weight only among the
        assignments that fill the most. The min-cost flow then runs in OR-Tools' max-flow-with-min-cost
        mode (no bypass arc), and the dense LSA raises every edge by a constant larger than any weight
        difference a matching can make.
    positive_only : bool
        Edges with ``weight <= 0`` are never chosen (they could only lower the total).
    prune : bool
        A large min-cost-flow subproblem is solved on each job's best edges first and proved optimal
        for all edges with a dual certificate (:func:`matcher.solver._solve_mcf_pruned`); under
        :attr:`cardinality_first` the certificate is lexicographic
        (:func:`matcher.solver.lexicographic_costs`).
    """

    name: str
    description: str
    cardinality_first: bool
    positive_only: bool
    prune: bool

    @property
    def flow_bypass(self) -> bool:
        """Whether the flow network has a zero-cost source -> sink arc, so that a slot may stay open.

        Needed exactly when the solve does not maximise the flow first: the network's supply is
        every slot, and the slots no edge is worth filling take the bypass.
        """
        return not self.cardinality_first

    def choosable(self, weight: np.ndarray) -> np.ndarray | None:
        """Mask of the edges an optimal assignment may contain.

        Parameters
        ----------
        weight : float array of shape (E,)
            Match value of each edge.

        Returns
        -------
        bool array of shape (E,), or None when every edge may be chosen (no array is built).
        """
        return weight > 0 if self.positive_only else None

    def dense_values(self, weight: np.ndarray, n_slots: int, n_workers: int) -> np.ndarray:
        """What each edge is worth in the dense slot-expanded matrix (cells with no edge are worth 0).

        Parameters
        ----------
        weight : float array of shape (E,)
            Match value of each edge of the dense subproblem.
        n_slots, n_workers : int
            Rows and columns of the slot-expanded matrix.

        Returns
        -------
        float array of shape (E,)
            ``weight`` itself, or, under :attr:`cardinality_first`, ``weight - min(weight)`` (so that
            every edge is worth at least 0 more than an empty cell, whatever the sign of the weights)
            plus a constant ``(max - min + 1) * (min(n_slots, n_workers) + 1)`` that outweighs any
            weight difference between two matchings, so that the assignment with the most edges wins.
        """
        if not self.cardinality_first:
            return weight
        big = (weight.max() - weight.min() + 1.0) * (min(n_slots, n_workers) + 1)
        return weight - weight.min() + big

    def dense_keep(self, weight: np.ndarray, picked: np.ndarray) -> np.ndarray:
        """The dense assignment's picks that belong to the optimum, sorted.

        ``linear_sum_assignment`` fills every row or column it can, so under :attr:`positive_only`
        the edges that do not add value are dropped again.

        Parameters
        ----------
        weight : float array of shape (E,)
            Match value of each edge of the dense subproblem (not :meth:`dense_values`).
        picked : int array of shape (k,)
            Positions (into ``weight``) of the edges the assignment chose.

        Returns
        -------
        int array of shape (k',), k' <= k, ascending.
        """
        keep = self.choosable(weight[picked])
        return np.sort(picked if keep is None else picked[keep])


WEIGHT = Objective(
    name="weight",
    description="maximise the total match score; a slot stays open rather than take a non-positive score",
    cardinality_first=False,
    positive_only=True,
    prune=True,
)
FILL = Objective(
    name="fill",
    description="fill as many slots as possible, then maximise the total match score among those",
    cardinality_first=True,
    positive_only=False,
    # pruned with its own lexicographic certificate (matcher.solver.lexicographic_costs): OR-Tools keeps
    # the small costs in max-flow-with-min-cost mode; posing fill as a weight problem with every edge
    # raised by a big constant was measured 8x slower (the constant inflates cost-scaling's phases)
    prune=True,
)

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (FILL, WEIGHT)}
"""Every objective by name; the names callers may pass."""

DEFAULT_OBJECTIVE = FILL.name
"""The objective of the batch run, the API and :func:`matcher.solver.solve_assignment` when none is given."""


def get_objective(name: str) -> Objective:
    """The objective registered under ``name``.

    Parameters
    ----------
    name : str
        One of the keys of :data:`OBJECTIVES`.

    Returns
    -------
    Objective

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message names the allowed names.
    """
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):  # TypeError: an unhashable value
        raise ValueError(f"objective must be one of {tuple(OBJECTIVES)}, got {name!r}") from None
