"""Counterfactual (off-policy) evaluation of a ranker from a logged, position-biased event log.

**What is estimated.** The value of a candidate ranker had it ranked the logged lists: for each job,
the candidate re-orders the workers the log shows for it, and its value is the expected graded gain
(``2**label - 1``, :func:`models.labels.label_gain`) collected in its top ``k`` positions, averaged
over the lists::

    V(candidate) = mean over lists j of  sum over p <= k of  E[ r(sigma_j(p), p) ]

where ``sigma_j(p)`` is the worker the candidate puts at position ``p`` and ``r(w, p)`` the gain of
worker ``w`` shown at ``p`` (position matters: a worker lower down is less likely to look).

**Estimators** (the item-position family: a row's reward depends on its worker and its position; the
slate "independent IPS" of Open Bandit Pipeline and Li et al., WSDM'18). Each logged row ``i`` (worker
``w_i`` shown at ``p_i`` with the logging policy's propensity ``pi0_i = P(w_i at p_i | the list)``)
gets the weight ``W_i = [sigma(w_i) = p_i <= k] / pi0_i``, whose expectation per position is 1:

- IPS: ``mean_j sum_i W_i r_i``.
- SNIPS: per position, ``sum_j W_jp r_jp / sum_j W_jp`` times the lists that reach it, summed over
  positions and divided by the lists (self-normalised: bounded by the rewards, a little biased).
- DM: ``mean_j sum_{p<=k} qhat(x_{sigma(p)}, p)`` with a reward model ``qhat`` (LightGBM regression of
  the gain on the features and the position, fit on other lists than the ones evaluated).
- DR: DM plus the IPS of the model's residuals, ``mean_j sum_i W_i (r_i - qhat(x_i, p_i))``: unbiased
  when the propensities are right, low-variance when the reward model is good.
- SNDR: DR with the residual term self-normalised per position as SNIPS is (a little biased, far less
  variance when a few rows carry large weights, as exploration rows do).

Confidence intervals are 95% percentile bootstraps over lists (lists are the independent units),
seeded. Open Bandit Pipeline (``obp`` 0.4.1) was the library of choice, but it requires PyTorch and
predates numpy 2 and pandas 3, which this project runs on; these are ~60 lines of numpy, tested
against hand-computed cases (``tests/models/test_ope.py``).

**Truth on simulated markets.** The simulator knows each pair's expected gain given examination
(``truth/oracle.csv``, ``expected_gain``) and the examination curve ``theta_p``
(``truth/simulation.json``), so the true value is ``mean_j sum_{p<=k} theta_p * gain(sigma_j(p))``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.dataset import TrainingSet
from models.labels import label_gain

ESTIMATORS = ("ips", "snips", "dm", "dr", "sndr")


@dataclass(frozen=True)
class LoggedLists:
    """Logged lists for off-policy evaluation, one row per shown (job, worker) pair.

    Attributes
    ----------
    list_id : ndarray of int64, shape (n_rows,)
        The list (job) each row belongs to, 0..n_lists-1.
    position : ndarray of int64, shape (n_rows,)
        1-based position the row was shown at.
    propensity : ndarray of float64, shape (n_rows,)
        Logging policy's P(this worker at this position | the list), in (0, 1].
    reward : ndarray of float64, shape (n_rows,)
        Realised graded gain of the row (0 when the worker did not look or did not apply).
    """

    list_id: np.ndarray
    position: np.ndarray
    propensity: np.ndarray
    reward: np.ndarray

    @property
    def n_lists(self) -> int:
        """Number of lists."""
        return int(self.list_id.max()) + 1 if len(self.list_id) else 0


def lists_from(data: TrainingSet) -> LoggedLists:
    """The logged lists of a training set (its queries), with positions and propensities checked.

    Raises
    ------
    ValueError
        One line naming the problem: no position or no propensity on some shown rows, a propensity of
        0 on a shown row, or a position repeated within a list.
    """
    meta = data.meta
    for col in ("position", "propensity"):
        if col not in meta or meta[col].isna().any():
            missing = len(meta) if col not in meta else int(meta[col].isna().sum())
            raise ValueError(
                f"off-policy evaluation needs a {col} on every shown event; {missing} of {len(meta)} shown "
                f"pairs have none (the platform sends {col} back with `shown`)"
            )
    prop = meta["propensity"].to_numpy(dtype=float)
    if (prop <= 0).any():
        i = int(np.flatnonzero(prop <= 0)[0])
        raise ValueError(
            f"shown pair {meta['job_id'].iloc[i]}/{meta['worker_id'].iloc[i]} has propensity 0: a list "
            "cannot show what its policy never shows"
        )
    list_id = meta["query"].to_numpy().astype(np.int64)
    position = meta["position"].to_numpy(dtype=float).astype(np.int64)
    if pd.DataFrame({"l": list_id, "p": position}).duplicated().any():
        raise ValueError("two shown workers share a position in one list; positions must be unique per list")
    return LoggedLists(list_id, position, prop, label_gain(data.y))


def candidate_positions(list_id: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Where a ranker puts each row within its list: 1 = highest score; ties by row order.

    Parameters
    ----------
    list_id : ndarray of int, shape (n_rows,)
    score : ndarray of float, shape (n_rows,)

    Returns
    -------
    ndarray of int64, shape (n_rows,)
    """
    order = np.lexsort((np.arange(len(score)), -score, list_id))
    sorted_lists = list_id[order]
    start = np.maximum.accumulate(
        np.where(np.r_[True, sorted_lists[1:] != sorted_lists[:-1]], np.arange(len(order)), 0)
    )
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start + 1
    return rank


def _per_list(log: LoggedLists, values: np.ndarray) -> np.ndarray:
    return np.bincount(log.list_id, weights=values, minlength=log.n_lists)


def contributions(
    log: LoggedLists,
    sigma: np.ndarray,
    k: int,
    qhat_logged: np.ndarray | None,
    qhat_target: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Per-list terms of every estimator, from which estimates and bootstraps are sums.

    Parameters
    ----------
    log : LoggedLists
    sigma : ndarray of int64, shape (n_rows,)
        The candidate's position of each row (:func:`candidate_positions`).
    k : int
        Positions counted.
    qhat_logged, qhat_target : ndarray of float64, shape (n_rows,), optional
        The reward model at each row's logged position and at its candidate position.

    Returns
    -------
    dict of str to ndarray
        ``ips``, ``dm``, ``dr``: shape (n_lists,), the list's term of the mean; ``snips_num``,
        ``snips_den``, ``reach``, ``sndr_num``: shape (n_lists, k), per position the weighted reward,
        the weight, whether the list reaches the position and the weighted residual.
    """
    match = (sigma == log.position) & (log.position <= k)
    weight = np.where(match, 1.0 / log.propensity, 0.0)
    out = {"ips": _per_list(log, weight * log.reward)}
    cell = log.list_id * k + np.minimum(log.position, k) - 1
    size = log.n_lists * k
    inside = log.position <= k
    num = np.bincount(cell[inside], weights=(weight * log.reward)[inside], minlength=size)
    den = np.bincount(cell[inside], weights=weight[inside], minlength=size)
    reach = np.bincount(cell[inside], minlength=size) > 0
    out.update(
        snips_num=num.reshape(-1, k), snips_den=den.reshape(-1, k), reach=reach.reshape(-1, k).astype(float)
    )
    if qhat_logged is not None and qhat_target is not None:
        out["dm"] = _per_list(log, np.where(sigma <= k, qhat_target, 0.0))
        residual = weight * (log.reward - qhat_logged)
        out["dr"] = out["dm"] + _per_list(log, residual)
        res = np.bincount(cell[inside], weights=residual[inside], minlength=size)
        out["sndr_num"] = res.reshape(-1, k)
    return out


def _estimates(parts: dict[str, np.ndarray], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Estimates for one or many resamples; ``counts`` of shape (n_samples, n_lists) weights each list."""
    n = counts.sum(axis=1)
    out = {name: counts @ parts[name] / n for name in ("ips", "dm", "dr") if name in parts}
    num = counts @ parts["snips_num"]
    den = counts @ parts["snips_den"]
    reach = counts @ parts["reach"]
    per_position = np.where(den > 0, reach * num / np.where(den > 0, den, 1.0), 0.0)
    out["snips"] = per_position.sum(axis=1) / n
    if "sndr_num" in parts:
        res = counts @ parts["sndr_num"]
        correction = np.where(den > 0, reach * res / np.where(den > 0, den, 1.0), 0.0)
        out["sndr"] = out["dm"] + correction.sum(axis=1) / n
    return out


def estimate(
    log: LoggedLists,
    score: np.ndarray,
    *,
    k: int = 10,
    qhat_logged: np.ndarray | None = None,
    qhat_target_fn=None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """IPS, SNIPS and (with a reward model) DM, DR and SNDR estimates of a candidate's value, with 95% CIs.

    Parameters
    ----------
    log : LoggedLists
    score : ndarray of float, shape (n_rows,)
        The candidate's scores of the logged rows; it ranks each list by them.
    k : int, default=10
        Positions counted.
    qhat_logged : ndarray of float, shape (n_rows,), optional
        Reward model at each row's logged position.
    qhat_target_fn : callable, optional
        ``positions (n_rows,) -> predictions (n_rows,)``: the reward model at given positions.
    n_boot : int, default=1000
        Bootstrap resamples of the lists (0: no intervals).
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    dict of estimator name to ``{"estimate", "ci_low", "ci_high"}``
    """
    if log.n_lists == 0:
        raise ValueError("no logged lists to evaluate on")
    sigma = candidate_positions(log.list_id, np.asarray(score, dtype=float))
    qhat_target = qhat_target_fn(sigma) if qhat_target_fn is not None else None
    parts = contributions(log, sigma, k, qhat_logged, qhat_target)
    point = _estimates(parts, np.ones((1, log.n_lists)))
    result = {name: {"estimate": float(v[0])} for name, v in point.items()}
    if n_boot:
        rng = np.random.default_rng(seed)
        draws: dict[str, list] = {name: [] for name in point}
        for start in range(0, n_boot, 100):  # resample counts in chunks: (100, n_lists) at a time
            b = min(100, n_boot - start)
            counts = rng.multinomial(log.n_lists, np.full(log.n_lists, 1.0 / log.n_lists), size=b)
            for name, v in _estimates(parts, counts.astype(float)).items():
                draws[name].append(v)
        for name, chunks in draws.items():
            lo, hi = np.percentile(np.concatenate(chunks), [2.5, 97.5])
            result[name].update(ci_low=float(lo), ci_high=float(hi))
    return {name: result[name] for name in ESTIMATORS if name in result}


def true_value(
    list_id: np.ndarray, score: np.ndarray, expected_gain: np.ndarray, examination: np.ndarray, k: int = 10
) -> float:
    """The simulator's true value of a ranking of the logged lists (see the module docstring).

    Parameters
    ----------
    list_id, score : ndarray of shape (n_rows,)
        Lists and the candidate's scores.
    expected_gain : ndarray of float64, shape (n_rows,)
        Each pair's expected gain given examination (the oracle's ``expected_gain``).
    examination : ndarray of float64, shape (max_position,)
        theta_1, theta_2, ...: examination probability per position.
    k : int, default=10
    """
    sigma = candidate_positions(list_id, np.asarray(score, dtype=float))
    theta = np.asarray(examination, dtype=float)
    inside = sigma <= min(k, len(theta))
    total = np.sum(theta[sigma[inside] - 1] * expected_gain[inside])
    return float(total / (int(list_id.max()) + 1))


class RewardModel:
    """``qhat(x, p)``: the expected gain of a pair shown at position ``p``, a LightGBM regression on the
    pair's features plus its position (fit on lists other than the ones it is used on).

    Parameters
    ----------
    seed : int, default=0
    """

    def __init__(self, seed: int = 0):
        import lightgbm as lgb

        self.model = lgb.LGBMRegressor(
            n_estimators=300,
            learning_rate=0.05,
            num_leaves=31,
            min_child_samples=50,
            random_state=seed,
            verbosity=-1,
        )

    def fit(self, X: np.ndarray, position: np.ndarray, reward: np.ndarray) -> RewardModel:
        """Fit on features (n_rows, n_features), positions (n_rows,) and realised gains (n_rows,)."""
        self.model.fit(np.c_[X, position], reward)
        return self

    def predict(self, X: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Predicted gain, shape (n_rows,), of each row shown at ``position``."""
        return np.maximum(self.model.predict(np.c_[X, position]), 0.0)


def ope_report(
    scorers: dict,
    data: TrainingSet,
    fit_rows: np.ndarray,
    eval_rows: np.ndarray,
    *,
    k: int = 10,
    market_dir: str | Path | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict:
    """Every estimator for each scorer on the lists of ``eval_rows``; the reward model is fit on
    ``fit_rows`` (other lists: no list is both). On a simulated market with position bias the true
    value is added beside them, and the logging policy's own value (its mean gain in the top ``k``).

    Parameters
    ----------
    scorers : dict of str to Scorer
        Candidates by name.
    data : TrainingSet
        The whole log (rows of a query contiguous), with positions and propensities.
    fit_rows, eval_rows : ndarray of int
        Row indices (whole queries) for the reward model and for the estimates.
    k : int, default=10
    market_dir : str or Path, optional
        A simulated market's folder: adds ``true`` values from its ``truth/``.
    seed, n_boot : int
        Bootstrap seed and resamples.

    Returns
    -------
    dict
        ``k``, ``lists``, ``rows``, ``logging_policy`` (its observed value), and per scorer name the
        estimates (``ips``, ``snips``, ``dm``, ``dr``, each with ``estimate``, ``ci_low``, ``ci_high``)
        and ``true`` when known.
    """
    fit_set, ev = data.subset(fit_rows), data.subset(eval_rows)
    log = lists_from(ev)
    fit_log = lists_from(fit_set)
    qhat = RewardModel(seed).fit(fit_set.X, fit_log.position, fit_log.reward)
    qhat_logged = qhat.predict(ev.X, log.position)
    truth = _truth(ev, market_dir)
    report: dict = {
        "k": k,
        "lists": log.n_lists,
        "rows": len(log.reward),
        "logging_policy": float(_per_list(log, np.where(log.position <= k, log.reward, 0.0)).mean()),
        "scorers": {},
    }
    for name, scorer in scorers.items():
        score = scorer.score(ev.X)
        est = estimate(
            log,
            score,
            k=k,
            qhat_logged=qhat_logged,
            qhat_target_fn=lambda sigma: qhat.predict(ev.X, sigma),
            n_boot=n_boot,
            seed=seed,
        )
        entry: dict = {"version": scorer.version, **est}
        if truth is not None:
            entry["true"] = true_value(log.list_id, score, truth[0], truth[1], k)
        report["scorers"][name] = entry
    return report


def _truth(data: TrainingSet, market_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(expected gain given examination per row, examination curve) of a simulated biased market."""
    if market_dir is None:
        return None
    truth = Path(market_dir) / "truth"
    if not (truth / "oracle.csv").exists() or not (truth / "simulation.json").exists():
        return None
    curve = json.loads((truth / "simulation.json").read_text()).get("examination")
    if not curve:
        return None
    oracle = pd.read_csv(truth / "oracle.csv", usecols=["job_id", "worker_id", "expected_gain"])
    merged = data.meta[["job_id", "worker_id"]].merge(oracle, on=["job_id", "worker_id"], how="left")
    return merged["expected_gain"].fillna(0.0).to_numpy(), np.asarray(curve, dtype=float)
