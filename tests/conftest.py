"""Shared fixtures: a small simulated market (built once per session) and a hand-made tiny market."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gigmatch.core.contract import Market, validate_table
from gigmatch.sim import SimulationConfig, write_simulation

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def small_market_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market")
    write_simulation(SimulationConfig(region="将乐县", workers=3000, jobs=600, days=20, seed=3), out)
    return out


def make_market(
    workers: list[dict],
    jobs: list[dict],
    employers: list[dict] | None = None,
    events: list[dict] | None = None,
) -> Market:
    """A validated market from plain dicts (contract string form)."""

    def table(rows, name, cols):
        df = pd.DataFrame(rows) if rows else pd.DataFrame({c: [] for c in cols})
        return validate_table(df, name)

    return Market(
        workers=table(workers, "workers", ["worker_id", "lat", "lon", "skills"]),
        jobs=table(jobs, "jobs", ["job_id", "trade", "lat", "lon"]),
        employers=table(employers or [], "employers", ["employer_id"]),
        events=table(events or [], "events", ["ts", "job_id", "worker_id", "event"]),
    )
