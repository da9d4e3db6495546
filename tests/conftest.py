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


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (started here, stopped at the end).

    Under ``CI=true`` a server that cannot start fails the run; elsewhere the tests that need it are
    skipped with the reason.
    """
    import os

    from gigmatch.testing import PostgresServer

    try:
        import psycopg  # noqa: F401

        server = PostgresServer()
    except (ImportError, RuntimeError, OSError) as exc:
        reason = f"PostgreSQL unavailable: {str(exc).splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    yield server
    server.stop()
