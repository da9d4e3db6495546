"""Candidate retrieval, constraints and the exact assignment solver."""

from matcher.solver import solve_assignment

__all__ = ["solve_assignment"]
