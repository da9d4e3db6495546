"""Candidate retrieval, constraints and the exact assignment solver."""

from matcher.solver import solve_assignment

__all__ = ["solve_assignment", "Dispatcher"]


def __getattr__(name: str):
    """``matcher.Dispatcher`` (:mod:`matcher.dispatch`), imported when first asked for."""
    if name == "Dispatcher":
        from matcher.dispatch import Dispatcher

        return Dispatcher
    raise AttributeError(f"module 'matcher' has no attribute {name!r}")
