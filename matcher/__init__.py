"""Candidate retrieval, constraints, the exact assignment solver and capacity-aware slates."""

from matcher.slates import plan_slates
from matcher.solver import solve_assignment

__all__ = ["Dispatcher", "plan_slates", "solve_assignment"]


def __getattr__(name: str):
    """``matcher.Dispatcher`` (:mod:`matcher.dispatch`), imported when first asked for."""
    if name == "Dispatcher":
        from matcher.dispatch import Dispatcher

        return Dispatcher
    raise AttributeError(f"module 'matcher' has no attribute {name!r}")
