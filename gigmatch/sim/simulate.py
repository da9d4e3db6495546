"""The orchestrator: one seeded generator through geography, population, policy, behaviour and events.

Draw order (the seed stream; keep it when changing any step): villages and homes, workers,
employers, work sites and jobs, the logging policy's keys, the pairs' apply noise, the outcomes, the
event times. The oracle draws nothing. With ``position_bias`` the lists' order and the examination
are drawn from a second generator seeded ``[seed, 17]`` (:mod:`gigmatch.sim.positions`), so the
market and every outcome given examination are the same with and without it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from gigmatch.core.contract import Market, write_market
from gigmatch.core.geo import EARTH_RADIUS_KM
from gigmatch.core.regions import find_region
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy
from gigmatch.sim.behaviour import draw_outcomes, only_examined, pair_probabilities
from gigmatch.sim.config import SimulationConfig
from gigmatch.sim.events import event_log
from gigmatch.sim.geography import place_homes, place_villages, place_work_sites, to_latlon
from gigmatch.sim.hours import draw_hours
from gigmatch.sim.oracle import graded_outcomes, oracle_table
from gigmatch.sim.policy import show_jobs
from gigmatch.sim.population import Vocabulary, draw_employers, draw_jobs, draw_workers
from gigmatch.sim.positions import examination_probability, log_positions


def simulate_market(
    config: SimulationConfig, taxonomy: Taxonomy | None = None
) -> tuple[Market, pd.DataFrame]:
    """Simulate a county market, its event log and the oracle.

    Parameters
    ----------
    config : SimulationConfig
        What to simulate; the same config (and taxonomy) gives the same market.
    taxonomy : Taxonomy, optional
        The vocabulary the market speaks; the built-in taxonomy by default.

    Returns
    -------
    market : Market
        Workers, jobs, employers and events, in the data contract's tables.
    oracle : pandas.DataFrame
        One row per shown pair (see :func:`gigmatch.sim.oracle.oracle_table`).

    Raises
    ------
    ValueError
        If ``workers``, ``jobs`` or ``days`` is below 1, or the region is unknown or ambiguous.
    """
    if config.workers < 1 or config.jobs < 1 or config.days < 1:
        raise ValueError("workers, jobs and days must each be at least 1")
    tax = taxonomy or default_taxonomy()
    region = find_region(config.region)
    rng = np.random.default_rng(config.seed)
    radius = region.radius_km
    t0 = pd.Timestamp(config.start)
    vocab = Vocabulary.from_taxonomy(tax)

    villages = place_villages(rng, config.workers, radius)
    home_lat, home_lon = to_latlon(region, *place_homes(rng, villages, config.workers, radius))
    workers = draw_workers(rng, vocab, home_lat, home_lon, t0, config.days)
    employers = draw_employers(rng, max(1, config.jobs // 5))
    sites = place_work_sites(rng, villages, radius)
    jobs = draw_jobs(rng, config.jobs, vocab, employers, sites, region, t0, config.days)
    workers, jobs = draw_hours(config.seed, workers, jobs)  # its own stream: the draws above and below stay

    pairs = show_jobs(rng, workers, jobs, employers, config.shown_per_job, config.pool_size)
    probs = pair_probabilities(rng, pairs, workers, jobs, employers)
    outcomes = draw_outcomes(rng, probs)
    lists = None
    if config.position_bias:
        if not 0 <= config.exploration <= 1 or config.examination_power < 0:
            raise ValueError("exploration must lie in [0, 1] and examination_power be at least 0")
        lists = log_positions(
            np.random.default_rng([config.seed, 17]),
            pairs,
            workers,
            jobs,
            config.exploration,
            config.examination_power,
        )
        if_examined = outcomes
        outcomes = only_examined(outcomes, lists.examined)
    events = event_log(rng, pairs, outcomes, workers, jobs, lists)
    oracle = oracle_table(pairs, probs, workers, jobs)
    if lists is not None:
        oracle = oracle.assign(
            position=lists.position,
            propensity=lists.propensity,
            examination=lists.examination,
            examined=lists.examined,
            label_if_examined=graded_outcomes(if_examined),
        )

    market = Market(
        workers=workers.table, jobs=jobs.table, employers=employers.table, events=events, taxonomy=tax
    )
    return market, oracle


def write_simulation(
    config: SimulationConfig, out: str | Path, fmt: str = "csv", taxonomy: Taxonomy | None = None
) -> dict:
    """Simulate and write the market to ``out`` and the oracle to ``out/truth/``.

    With a market ``taxonomy`` (not the built-in one) the market speaks that vocabulary and its
    ``trades``/``certificates`` tables are written beside the others.

    Parameters
    ----------
    config : SimulationConfig
        What to simulate.
    out : str or Path
        Market folder (created if missing).
    fmt : {"csv", "parquet"}
        Format of the market's tables; ``truth/oracle.csv`` is always CSV.
    taxonomy : Taxonomy, optional
        The vocabulary the market speaks; the built-in taxonomy by default.

    Returns
    -------
    dict
        The summary also written to ``out/truth/simulation.json``: ``config``, ``region``, counts of
        ``workers``, ``jobs``, ``events`` and ``shown_pairs``, and ``earth_radius_km``.
    """
    market, oracle = simulate_market(config, taxonomy)
    out = Path(out)
    write_market(market, out, fmt=fmt)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    oracle.to_csv(truth / "oracle.csv", index=False)
    region = find_region(config.region)
    summary = {
        "config": asdict(config),
        "region": {**asdict(region), "full_name": region.full_name},
        "workers": len(market.workers),
        "jobs": len(market.jobs),
        "events": len(market.events),
        "shown_pairs": len(oracle),
        "earth_radius_km": EARTH_RADIUS_KM,
    }
    if config.position_bias:  # the examination curve, theta_1..theta_n, for the true value of a ranking
        longest = int(oracle.groupby("job_id").size().max()) if len(oracle) else 0
        summary["examination"] = examination_probability(
            np.arange(1, longest + 1), config.examination_power
        ).tolist()
    (truth / "simulation.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    return summary
