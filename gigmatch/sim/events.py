"""The event log: each shown pair's outcomes as dated events in the data contract's ``events`` table.

Timing (per pair; uniform delays, rounded to whole seconds)
    shown      0-6 h after the job was posted
    declined / applied
               30 min to 20.5 h after being shown
    hired      1-11 h after applying
    completed  at the job's end
    no_show    2 h after the job's start
    rated      1-41 h after the job's end (the event carries the rating, whole stars)

Events are ordered by time, then job and worker, and numbered ``ev00000000``, ... in that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigmatch.sim.behaviour import Outcomes
from gigmatch.sim.policy import ShownPairs
from gigmatch.sim.population import Jobs, Workers
from gigmatch.sim.positions import POLICY_NAME, LoggedLists


def event_log(
    rng: np.random.Generator,
    pairs: ShownPairs,
    outcomes: Outcomes,
    workers: Workers,
    jobs: Jobs,
    lists: LoggedLists | None = None,
) -> pd.DataFrame:
    """Date the pairs' outcomes and write them as events.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws, in order, ``n_pairs`` uniforms each for the shown, response, hire and rating delays.
    pairs : ShownPairs
        Who was shown which job.
    outcomes : Outcomes
        What happened to each pair (from :func:`gigmatch.sim.behaviour.draw_outcomes`).
    workers, jobs : Workers, Jobs
        For ids and the jobs' posting, start and end times.
    lists : LoggedLists, optional
        Positions and propensities (position bias on): written on the ``shown`` events with the
        policy's name; without them those columns are empty.

    Returns
    -------
    pandas.DataFrame
        The contract's ``events`` table: ``ts, job_id, worker_id, event, rating, event_id, position,
        policy, propensity``, one row per event, sorted by ``ts, job_id, worker_id``; ``rating`` is NaN
        except on ``rated`` events, the last three empty except on ``shown`` events of a biased log.
    """
    pj, pw = pairs.job, pairs.worker
    n_p = len(pj)
    o = outcomes
    posted_p = jobs.posted[pj]
    start_p, end_p = jobs.start[pj], jobs.end[pj]
    t_shown = posted_p + pd.to_timedelta(rng.random(n_p) * 6 * 3600, unit="s").round("s")
    t_resp = t_shown + pd.to_timedelta(1800 + rng.random(n_p) * 20 * 3600, unit="s").round("s")
    t_hire = t_resp + pd.to_timedelta(3600 + rng.random(n_p) * 10 * 3600, unit="s").round("s")
    t_noshow = start_p + pd.Timedelta(hours=2)
    t_rated = end_p + pd.to_timedelta(3600 + rng.random(n_p) * 40 * 3600, unit="s").round("s")
    job_ids = jobs.table["job_id"].to_numpy()[pj]
    worker_ids = workers.table["worker_id"].to_numpy()[pw]
    parts = []
    for name, mask, ts in (
        ("shown", np.ones(n_p, bool), t_shown),
        ("declined", o.declined, t_resp),
        ("applied", o.applied, t_resp),
        ("hired", o.hired, t_hire),
        ("completed", o.completed, end_p),
        ("no_show", o.no_show, t_noshow),
        ("rated", o.rated, t_rated),
    ):
        logged = lists is not None and name == "shown"
        parts.append(
            pd.DataFrame(
                {
                    "ts": ts[mask],
                    "job_id": job_ids[mask],
                    "worker_id": worker_ids[mask],
                    "event": name,
                    "rating": np.where(name == "rated", o.rating[mask], np.nan),
                    "position": lists.position[mask] if logged else np.nan,
                    "policy": POLICY_NAME if logged else "",
                    "propensity": lists.propensity[mask] if logged else np.nan,
                }
            )
        )
    events = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["ts", "job_id", "worker_id"], kind="stable")
        .reset_index(drop=True)
    )
    events["event_id"] = [f"ev{i:08d}" for i in range(len(events))]
    events["position"] = events["position"].astype(float)  # whole numbers, NaN where not logged
    return events[
        ["ts", "job_id", "worker_id", "event", "rating", "event_id", "position", "policy", "propensity"]
    ]
