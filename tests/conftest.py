"""Shared fixtures: a small simulated market (built once per session) and a hand-made tiny market."""

from __future__ import annotations

from pathlib import Path

import pytest

from gigmatch.sim import SimulationConfig, write_simulation


@pytest.fixture(scope="session")
def small_market_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market")
    write_simulation(SimulationConfig(region="将乐县", workers=3000, jobs=600, days=20, seed=3), out)
    return out
