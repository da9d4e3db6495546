"""Working hours in the simulated market: workers' weekly windows and daily caps, jobs' shift times.

Drawn from a generator of its own (``default_rng([seed, HOURS_STREAM])``), after the main draws and
without taking any of them, so that every other output of a seed (homes, workers, jobs' days, the
logging policy, outcomes) is what it was before hours existed; only the clock times of the jobs' shifts
(and so the times of their ``no_show``/``completed`` events) move.

Workers (shares of all workers):

=========================  =====  ==============================================  ===========
who                        share  ``available_hours``                             daily cap h
=========================  =====  ==============================================  ===========
school-hours (妈妈岗)       12%    ``mon-fri 08:30-15:30``                         6
evenings and weekends      8%     ``mon-fri 17:00-22:00;sat-sun 07:00-20:00``     empty
early risers               10%    ``daily 05:00-15:00``                           8
anyone else                70%    empty (any time)                                10 for 15%
=========================  =====  ==============================================  ===========

Jobs keep their days (start day and, for jobs over several days, end day) and get one daily shift:
08:00-17:00 (55%), 06:00-14:00 with a shuttle (15%), school hours 09:00-15:00 (12%), evenings
17:00-21:00 (10%), mornings 08:00-12:00 (4%) or afternoons 13:00-17:00 (4%).

The behaviour model does not look at hours (a worker may apply to a job outside them in the log); the
hours are a hard constraint of the multi-day run and the dispatcher, not a feature.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

HOURS_STREAM = 15  # the second word of this module's seed sequence: [seed, HOURS_STREAM]

WORKER_PATTERNS = (  # (share, available_hours, max_hours_per_day)
    (0.12, "mon-fri 08:30-15:30", 6.0),
    (0.08, "mon-fri 17:00-22:00;sat-sun 07:00-20:00", np.nan),
    (0.10, "daily 05:00-15:00", 8.0),
    (0.70, "", np.nan),
)
ANY_TIME_CAP_SHARE, ANY_TIME_CAP_H = 0.15, 10.0
JOB_SHIFTS = (  # (share, start hour, end hour)
    (0.55, 8.0, 17.0),
    (0.15, 6.0, 14.0),
    (0.12, 9.0, 15.0),
    (0.10, 17.0, 21.0),
    (0.04, 8.0, 12.0),
    (0.04, 13.0, 17.0),
)


def draw_hours(seed: int, workers, jobs):
    """``workers`` and ``jobs`` (the simulator's :class:`~gigmatch.sim.population.Workers` and
    :class:`~gigmatch.sim.population.Jobs`) with hours: returns new objects, the inputs are unchanged.

    Parameters
    ----------
    seed : int
        The simulation's seed (this module draws from ``[seed, HOURS_STREAM]``).
    workers, jobs
        As drawn by :func:`gigmatch.sim.population.draw_workers` and :func:`~gigmatch.sim.population.draw_jobs`.

    Returns
    -------
    (workers, jobs)
    """
    rng = np.random.default_rng([seed, HOURS_STREAM])
    n_w, n_j = len(workers.table), len(jobs.table)
    share = np.array([p[0] for p in WORKER_PATTERNS])
    kind = rng.choice(len(WORKER_PATTERNS), size=n_w, p=share / share.sum())
    hours = np.array([p[1] for p in WORKER_PATTERNS], dtype=object)[kind]
    cap = np.array([p[2] for p in WORKER_PATTERNS])[kind]
    anyone = kind == len(WORKER_PATTERNS) - 1
    cap = np.where(anyone & (rng.random(n_w) < ANY_TIME_CAP_SHARE), ANY_TIME_CAP_H, cap)
    w_table = workers.table.assign(available_hours=hours, max_hours_per_day=cap)

    jshare = np.array([s[0] for s in JOB_SHIFTS])
    shift = rng.choice(len(JOB_SHIFTS), size=n_j, p=jshare / jshare.sum())
    begin_h = np.array([s[1] for s in JOB_SHIFTS])[shift]
    end_h = np.array([s[2] for s in JOB_SHIFTS])[shift]
    start = pd.DatetimeIndex(jobs.start).normalize() + pd.to_timedelta(begin_h, unit="h")
    end = pd.DatetimeIndex(jobs.end).normalize() + pd.to_timedelta(end_h, unit="h")
    j_table = jobs.table.assign(start_time=start, end_time=end)
    return replace(workers, table=w_table), replace(jobs, table=j_table, start=start, end=end)
