"""Training pipeline: market folder -> time split -> LambdaRank -> registry version with metadata."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.registry import FEATURE_NAMES
from gigmatch.core.contract import load_market
from models.calibration import completed, fit_calibration
from models.dataset import TrainingSet, build_training_set, time_split
from models.evaluate import evaluate
from models.ranker import GigRanker
from models.registry import (
    ModelScorer,
    Registry,
    data_hash,
    feature_schema_hash,
    git_commit,
    library_versions,
    save_version,
)

log = logging.getLogger("gigmatch.train")


def _range(data: TrainingSet) -> dict:
    if len(data.y) == 0:
        return {"rows": 0, "queries": 0}
    return {
        "from": str(data.meta["query_ts"].min()),
        "to": str(data.meta["query_ts"].max()),
        "rows": len(data.y),
        "queries": int(data.meta["query"].max()) + 1,
    }


def fit_ranker(
    train: TrainingSet,
    valid: TrainingSet,
    *,
    seed: int,
    params: dict,
    dask_client=None,
    debias: bool = True,
) -> GigRanker:
    """Fit a :class:`~models.ranker.GigRanker` on ``train``; NDCG@10 on ``valid`` picks the number of trees.

    When the training rows carry logged positions and ``debias`` is on, LightGBM's position-bias
    correction is used (:mod:`models.ranker`) and, with logged propensities, the number of trees is
    picked on the validation rows' DCG@10 with inverse-examination-weighted gains (the examination
    curve estimated from the training rows, :mod:`models.examination`); ``debias=False`` trains the
    naive model on the same rows, early-stopped on the logged grades.

    Parameters
    ----------
    train, valid : TrainingSet
        Training and validation rows; each query's rows contiguous.
    seed : int
        LightGBM's ``random_state``.
    params : dict
        LightGBM parameters overriding :data:`models.ranker.DEFAULT_PARAMS`.
    dask_client : dask.distributed.Client, optional
        Fit on that cluster (:func:`models.dask.fit_dask`, trees picked after the fact) instead of
        in this process (LightGBM's early stopping).

    Returns
    -------
    GigRanker, fitted.
    """
    ranker = GigRanker(random_state=seed, **params)
    position = train.positions if debias else None
    if dask_client is not None:
        if position is not None:
            raise ValueError(
                "position-debiased training runs in one process (lightgbm.dask has no positions); "
                "drop --dask or pass --no-debias"
            )
        from models.dask import fit_dask

        return fit_dask(ranker, train, dask_client, valid=valid)
    return ranker.fit(
        train.X,
        train.y,
        train.group_sizes,
        eval_set=(valid.X, valid.y),
        eval_group=valid.group_sizes,
        position=position,
        propensity=train.propensities if position is not None else None,
        eval_position=valid.positions if position is not None else None,
    )


def train(
    data_dir: str | Path,
    registry: str | Path,
    *,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    dask_client=None,
    progress=None,
    debias: bool = True,
) -> tuple[ModelScorer, dict]:
    """Train a ranker on ``data_dir`` and add it to ``registry``; the first version becomes current.

    With logged positions the ranker is position-debiased unless ``debias`` is False (see
    :func:`fit_ranker`). Returns the loaded model and its metadata (including test metrics against
    the baselines).
    """
    step = progress or (lambda stage: None)
    t0 = time.perf_counter()
    step("load")
    market = load_market(data_dir)
    step("features")
    data = build_training_set(market)
    if len(data.y) == 0:
        raise ValueError(f"{data_dir}: the event log has no 'shown' events to learn from")
    tr, va, te = time_split(data)
    train_set, valid_set, test_set = (data.subset(p) for p in (tr, va, te))
    step("train")
    t_fit = time.perf_counter()
    ranker = fit_ranker(
        train_set, valid_set, seed=seed, params=params or {}, dask_client=dask_client, debias=debias
    )
    fit_s = time.perf_counter() - t_fit
    step("evaluate")
    now = datetime.now(UTC)
    dhash = data_hash(data_dir)
    version = f"{now.strftime('%Y%m%dT%H%M%S')}-{dhash[:6]}-s{seed}"
    # two fits of the same data and seed within one second (e.g. debiased, then --no-debias) get -2, -3
    taken, base = set(Registry(registry).versions()), version
    for n in range(2, 10_000):
        if version not in taken:
            break
        version = f"{base}-{n}"
    meta = {
        "version": version,
        "created_at": now.isoformat(),
        "feature_names": list(FEATURE_NAMES),
        "feature_schema_hash": feature_schema_hash(),
        "data": {
            "path": str(Path(data_dir).resolve()),
            "hash": dhash,
            "train": _range(train_set),
            "valid": _range(valid_set),
            "test": _range(test_set),
            "vocabulary": {
                "source": "built-in" if market.taxonomy.is_built_in else "market",
                "fingerprint": market.taxonomy.fingerprint(),
            },
        },
        "params": {
            **ranker.params,
            "random_state": seed,
            "early_stopping_rounds": ranker.early_stopping_rounds,
            "best_iteration": ranker.best_iteration_ or getattr(ranker.model_, "best_iteration_", None),
            "trainer": "dask" if dask_client is not None else "local",
            # "lightgbm-position": LightGBM's position-bias correction on the logged positions;
            # "none": positions logged but --no-debias; "no-positions": the log has none
            "debias": (
                "no-positions"
                if train_set.positions is None
                else ("lightgbm-position" if getattr(ranker, "debiased_", False) else "none")
            ),
            # debiased fits: what picked the number of trees ("ips-dcg@10": validation DCG@10 with
            # inverse-examination-weighted gains; "ndcg@10": the logged grades, no propensities logged)
            # and the examination curve estimated from the log (theta_1.., None without propensities)
            **(
                {
                    "early_stopping": ranker.stopping_,
                    "examination": None
                    if ranker.examination_ is None
                    else [round(float(x), 4) for x in ranker.examination_[1:]],
                }
                if getattr(ranker, "debiased_", False)
                else {}
            ),
        },
        "library_versions": library_versions(),
        "git_commit": git_commit(),
        "timing_seconds": {"fit": round(fit_s, 2), "total": None},
    }
    # calibrated P(completed) on the validation days: held out from fitting, and not the test days
    calibration = fit_calibration(
        ranker.predict(valid_set.X), completed(valid_set.y), fitted_on="valid", period=_range(valid_set)
    )
    meta["calibration"] = calibration.to_dict()
    scorer = ModelScorer(ranker, meta, Path("."))
    meta["metrics"] = {"test": evaluate(scorer, test_set, data_dir)}
    meta["timing_seconds"]["total"] = round(time.perf_counter() - t0, 2)
    step("save")
    path = save_version(registry, ranker, meta)
    reg = Registry(registry)
    if reg.current() is None:
        reg.set_current(version)
        log.info("first model in %s: %s is now current", registry, version)
    return ModelScorer(ranker, meta, path), meta


def holdout(data_dir: str | Path) -> TrainingSet:
    """The test period of ``data_dir`` as a training set (the promote holdout)."""
    data = build_training_set(load_market(data_dir))
    _, _, te = time_split(data)
    return data.subset(te)


def holdout_ndcg(scorer, data: str | Path | TrainingSet) -> float:
    """NDCG@10 of ``scorer`` on a holdout (a :class:`TrainingSet`, or a market folder's test period)."""
    from models.metrics import ndcg_at_k

    test = data if isinstance(data, TrainingSet) else holdout(data)
    return ndcg_at_k(test.meta["query"].to_numpy(), test.y, scorer.score(test.X))


def promote(
    registry: str | Path,
    version: str,
    *,
    data_dir: str | Path | None = None,
    force: bool = False,
    gate_dr: bool = False,
) -> dict:
    """Make ``version`` current unless it is worse than the current model on the same holdout.

    The holdout is the test period of ``data_dir`` when given, else of the candidate's own training
    data (both models are scored on it). ``force`` skips the comparison. ``gate_dr`` compares the
    models' doubly robust off-policy estimates on the holdout's logged lists instead of their NDCG@10
    on the logged labels (:mod:`models.ope`; the log needs positions and propensities): a candidate
    whose DR estimate is below the current model's is refused.
    """
    from models.registry import RegistryError, load_version

    reg = Registry(registry)
    if version not in reg.versions():
        raise RegistryError(f"unknown version {version!r}; known: {', '.join(reg.versions()) or 'none'}")
    current = reg.current()
    result = {"candidate": version, "previous": current, "forced": force}
    if current and current != version and not force:
        source = data_dir or reg.metadata(version)["data"]["path"]
        if gate_dr:
            return _promote_on_dr(reg, version, current, source, result)
        test = holdout(source)  # built once: both models are scored on the same rows
        cand = holdout_ndcg(load_version(reg.root / "versions" / version), test)
        cur = holdout_ndcg(load_version(reg.root / "versions" / current), test)
        result.update(
            {"holdout": str(source), "candidate_ndcg@10": round(cand, 5), "current_ndcg@10": round(cur, 5)}
        )
        if cand < cur - 1e-12:
            raise RegistryError(
                f"refusing to promote {version}: NDCG@10 {cand:.4f} on the holdout is worse than current "
                f"{current}'s {cur:.4f} (use --force to promote anyway)"
            )
    reg.set_current(version)
    return result


def _promote_on_dr(reg: Registry, version: str, current: str, source: str | Path, result: dict) -> dict:
    """The DR gate of :func:`promote`: both models' DR estimates on the test period's logged lists (the
    reward model fit on the earlier lists), the candidate refused when its estimate is lower."""
    import numpy as np

    from models.ope import ope_report
    from models.registry import RegistryError, load_version

    data = build_training_set(load_market(source))
    tr, va, te = time_split(data)
    scorers = {
        "candidate": load_version(reg.root / "versions" / version),
        "current": load_version(reg.root / "versions" / current),
    }
    report = ope_report(scorers, data, np.r_[tr, va], te, market_dir=source, n_boot=200)
    cand, cur = (report["scorers"][n]["dr"] for n in ("candidate", "current"))
    result.update(
        {
            "holdout": str(source),
            "gate": "dr",
            "candidate_dr": round(cand["estimate"], 5),
            "candidate_dr_ci": [round(cand["ci_low"], 5), round(cand["ci_high"], 5)],
            "current_dr": round(cur["estimate"], 5),
            "current_dr_ci": [round(cur["ci_low"], 5), round(cur["ci_high"], 5)],
        }
    )
    if cand["estimate"] < cur["estimate"] - 1e-12:
        raise RegistryError(
            f"refusing to promote {version}: its DR estimate {cand['estimate']:.4f} on the holdout's logged "
            f"lists is below current {current}'s {cur['estimate']:.4f} (use --force to promote anyway)"
        )
    reg.set_current(version)
    return result
