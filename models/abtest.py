"""The experiment report: per-variant outcome rates per showing, interleaving wins, and a verdict.

Reads an event log whose ``shown`` events carry the ``policy`` the service returned (the variant's model
version; under interleaving each item's team). A **showing** is a shown (job, worker) pair (its first
showing with a policy); its outcomes are the pair's ``applied``, ``hired`` and ``completed`` events
logged at or after it (counted once per pair).

- **Rates per showing** for each policy (an outcome counts when it is logged at or after the showing): applied, hired and completed showings over showings, with 95%
  intervals from a bootstrap over jobs (the showings of one job are not independent: they share the
  job's wage and place), seeded.
- **Verdict** (split experiments): every other variant against the first (the control) on the apply
  rate: the bootstrap interval of the difference; "better"/"worse" when it excludes 0, else "no
  detectable difference".
- **Interleaving**: a list holding showings of both teams is won by the team whose showings drew more
  applications (ties are ties); the verdict is a two-sided sign test on wins (binomial, p < 0.05).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

OUTCOMES = ("applied", "hired", "completed")


def showings(events: pd.DataFrame) -> pd.DataFrame:
    """One row per shown (job, worker) pair with a policy: ``job_id, worker_id, policy`` and a 0/1
    column per outcome in :data:`OUTCOMES`."""
    shown = events[(events["event"] == "shown") & (events["policy"] != "")]
    shown = shown.sort_values("ts", kind="stable").drop_duplicates(["job_id", "worker_id"])
    out = shown[["job_id", "worker_id", "policy", "ts"]].reset_index(drop=True)
    for name in OUTCOMES:
        # an outcome counts for the showing it followed: one logged before it (an earlier showing of
        # the pair, outside the experiment) does not
        done = events.loc[events["event"] == name, ["job_id", "worker_id", "ts"]].rename(columns={"ts": "t"})
        joined = out.reset_index().merge(done, on=["job_id", "worker_id"])
        after = joined.loc[joined["t"] >= joined["ts"], "index"].unique()
        out[name] = 0
        out.loc[after, name] = 1
    return out.drop(columns="ts")


def _bootstrap_rates(per_job: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of each outcome's rate, shape (n_boot, len(OUTCOMES)), resampling jobs."""
    counts = rng.multinomial(len(per_job), np.full(len(per_job), 1 / len(per_job)), size=n_boot)
    shown = counts @ per_job["shown"].to_numpy(float)
    return (counts @ per_job[list(OUTCOMES)].to_numpy(float)) / shown[:, None]


def experiment_report(
    events: pd.DataFrame, variants: dict[str, str] | None = None, *, n_boot: int = 1000, seed: int = 0
) -> dict:
    """The report of an experiment's log (see the module docstring).

    Parameters
    ----------
    events : pandas.DataFrame
        The contract's ``events`` table.
    variants : dict of str to str, optional
        Policy (model version) -> variant name, in the experiment's order (the first is the control);
        by default each policy is its own variant, ordered by first showing.
    n_boot : int, default=1000
        Bootstrap resamples of jobs.
    seed : int, default=0

    Returns
    -------
    dict
        ``variants``: per variant ``showings``, ``jobs`` and per outcome ``rate``, ``ci`` ([low, high]);
        ``verdict``: per non-control variant the apply-rate difference, its interval and a word;
        ``interleaving``: ``lists``, ``wins`` per team, ``ties``, ``p_value`` and a verdict, when any
        list holds two teams.

    Raises
    ------
    ValueError
        When no ``shown`` event carries a policy.
    """
    rows = showings(events)
    if rows.empty:
        raise ValueError("no shown event carries a policy: send the policy from /v1/rank back with `shown`")
    order = list(variants) if variants else list(dict.fromkeys(rows["policy"]))
    names = variants or {p: p for p in order}
    rows = rows[rows["policy"].isin(order)]
    rng = np.random.default_rng(seed)
    report: dict = {"variants": {}, "verdict": {}}
    draws = {}
    for policy in order:
        mine = rows[rows["policy"] == policy]
        if mine.empty:
            continue
        per_job = mine.groupby("job_id")[list(OUTCOMES)].sum().assign(shown=mine.groupby("job_id").size())
        boot = _bootstrap_rates(per_job, n_boot, rng)
        draws[policy] = boot
        entry = {"policy": policy, "showings": len(mine), "jobs": len(per_job)}
        for k, name in enumerate(OUTCOMES):
            lo, hi = np.percentile(boot[:, k], [2.5, 97.5])
            entry[name] = {"rate": float(mine[name].mean()), "ci": [float(lo), float(hi)]}
        report["variants"][names[policy]] = entry
    control = next((p for p in order if p in draws), None)
    for policy in order:
        if policy == control or policy not in draws:
            continue
        diff = draws[policy][:, 0] - draws[control][:, 0]
        lo, hi = np.percentile(diff, [2.5, 97.5])
        point = (
            report["variants"][names[policy]]["applied"]["rate"]
            - report["variants"][names[control]]["applied"]["rate"]
        )
        word = "better" if lo > 0 else ("worse" if hi < 0 else "no detectable difference")
        report["verdict"][names[policy]] = {
            "against": names[control],
            "apply_rate_difference": float(point),
            "ci": [float(lo), float(hi)],
            "verdict": word,
        }
    teams = rows.groupby("job_id")["policy"].nunique()
    mixed = teams[teams == 2].index
    if len(mixed):
        lists = rows[rows["job_id"].isin(mixed)]
        applies = lists.pivot_table(
            index="job_id", columns="policy", values="applied", aggfunc="sum", fill_value=0
        )
        pols = [p for p in order if p in applies.columns][:2]
        if len(pols) == 2:
            a, b = applies[pols[0]].to_numpy(), applies[pols[1]].to_numpy()
            wins_a, wins_b = int((a > b).sum()), int((b > a).sum())
            p_value = binomtest(wins_a, wins_a + wins_b).pvalue if wins_a + wins_b else 1.0
            if p_value < 0.05:
                word = f"{names[pols[0]] if wins_a > wins_b else names[pols[1]]} wins"
            else:
                word = "no detectable difference"
            report["interleaving"] = {
                "lists": int(len(applies)),
                "wins": {names[pols[0]]: wins_a, names[pols[1]]: wins_b},
                "ties": int((a == b).sum()),
                "p_value": float(p_value),
                "verdict": word,
            }
    return report
