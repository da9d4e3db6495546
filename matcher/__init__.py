"""Candidate retrieval, constraints, the exact assignment solver and capacity-aware slates."""

from matcher.slates import plan_slates
from matcher.solver import solve_assignment

__all__ = ["plan_slates", "solve_assignment"]
