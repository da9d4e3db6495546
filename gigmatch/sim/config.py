"""What to simulate: one frozen dataclass, written verbatim into ``truth/simulation.json``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of one simulated county market; the same config gives the same market.

    Parameters
    ----------
    region : str
        County or district by name, full name (省市县) or 6-digit adcode (see
        :func:`gigmatch.core.regions.find_region`).
    workers : int
        Number of workers, at least 1.
    jobs : int
        Number of jobs posted over the log, at least 1; there are ``max(1, jobs // 5)`` employers.
    days : int
        Length of the log in days, at least 1; jobs are posted uniformly over it.
    seed : int
        Seed of the one random generator every draw comes from.
    start : str
        First day of the log, ``YYYY-MM-DD``.
    shown_per_job : int
        Workers the logging policy shows each job to (see :mod:`gigmatch.sim.policy`).
    pool_size : int
        Nearest workers the logging policy samples from, per job (capped at ``workers``).
    position_bias : bool
        Log each list's order (position, policy, propensity on ``shown`` events) and let only examined
        offers be applied to (see :mod:`gigmatch.sim.positions`); off: no positions, every offer examined.
    exploration : float
        With ``position_bias``: share of lists shown in a uniformly random order, in [0, 1].
    examination_power : float
        With ``position_bias``: a worker at position p examines the offer w.p. ``p ** -examination_power``.
    """

    region: str = "将乐县"
    workers: int = 10_000
    jobs: int = 2_000
    days: int = 30
    seed: int = 7
    start: str = "2026-09-01"
    shown_per_job: int = 30
    pool_size: int = 200
    position_bias: bool = False
    exploration: float = 0.3
    examination_power: float = 0.5
