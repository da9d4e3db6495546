"""Model commands: ``train``, ``evaluate``, ``score`` and the registry (``models list|promote|rollback``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gigmatch.cli._common import (
    CLIError,
    StageProgress,
    dask_client,
    existing_dir,
    existing_file,
    load_params,
    model_path,
    nonneg_int,
    positive_int,
    scorer_for,
)


def cmd_train(args: argparse.Namespace) -> int:
    """``gigmatch train``: train a ranker into a registry (the first version becomes current)."""
    from rich.progress import Progress

    from models.train import train

    stages = ["load", "features", "train", "evaluate", "save"]
    client = dask_client(args.dask)
    try:
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("train", total=len(stages))
            step = StageProgress(progress, task, stages)
            scorer, meta = train(
                args.data,
                args.out,
                seed=args.seed,
                params=load_params(args.params),
                dask_client=client,
                progress=step,
                debias=not args.no_debias,
            )
    finally:
        if client is not None:
            client.close()
    test = meta["metrics"]["test"]
    print(f"trained {meta['version']} in {meta['timing_seconds']['total']} s -> {scorer.path}")
    debias = meta["params"].get("debias")
    if debias != "no-positions":
        stopping = {
            "ips-dcg@10": "; trees picked on the validation DCG@10 weighted by the examination curve "
            "estimated from the logged propensities",
            "ndcg@10": "; trees picked on the logged grades (no propensities logged)",
        }.get(meta["params"].get("early_stopping"), "")
        print(
            "the log has positions: "
            + ("position-debiased (LightGBM)" if debias == "lightgbm-position" else "naive (--no-debias)")
            + stopping
        )
    print(
        f"test NDCG@10: model {test['scores']['model']['ndcg@10']:.4f}, heuristic {test['scores']['heuristic']['ndcg@10']:.4f}"
        + (f", oracle {test['scores']['oracle']['ndcg@10']:.4f}" if "oracle" in test["scores"] else "")
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``gigmatch evaluate``: a model against the baselines on the test period."""
    import numpy as np

    from gigmatch.core.contract import load_market
    from models.dataset import build_training_set, time_split
    from models.evaluate import evaluate

    models = args.model or [None]
    scorer = scorer_for(models[0])
    others = {f"model {i + 2} ({s.version})": s for i, s in enumerate(map(scorer_for, models[1:]))}
    data = build_training_set(load_market(args.data))
    tr, va, te = time_split(data)
    if args.ope:
        return _print_ope(args, {"model": scorer, **others}, data, np.r_[tr, va], te)
    report = evaluate(scorer, data.subset(te), args.data, others=others)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"test period {report['period'][0]} .. {report['period'][1]}: {report['queries']} jobs, {report['rows']} shown pairs"
    )
    if report["labels"] != "logged":
        print(f"labels: {report['labels']}")
    labels = {name: f"model ({scorer.version})" if name == "model" else name for name in report["scores"]}
    width = max(len("scorer"), *map(len, labels.values())) + 2  # names in full, never truncated
    print(f"{'scorer':<{width}}{'NDCG@5':>9}{'NDCG@10':>9}{'MAP':>9}{'R@10':>9}")
    for name, m in report["scores"].items():
        print(
            f"{labels[name]:<{width}}{m['ndcg@5']:>9.4f}{m['ndcg@10']:>9.4f}{m['map']:>9.4f}{m['recall@10']:>9.4f}"
        )
    if "calibration" in report:  # the probability slates use: P(completed) per showing
        cal = report["calibration"]
        print(
            f"calibration (P(completed), {cal['pairs']} pairs, rate {cal['completion_rate']}): "
            f"ECE {cal['ece']:.4f} (uncalibrated {cal['ece_uncalibrated']:.4f})"
        )
        print(f"{'p bin':<12}{'pairs':>8}{'mean p':>9}{'rate':>9}")
        for b in cal["reliability"]:
            print(f"{b['lo']:.1f}-{b['hi']:.1f}{'':<5}{b['pairs']:>8}{b['mean_p']:>9.4f}{b['rate']:>9.4f}")
    if report.get("model_vs_oracle_ndcg@10") is not None:
        print(f"model reaches {report['model_vs_oracle_ndcg@10']:.1%} of the oracle's NDCG@10")
        for name in others:
            print(f"{name} reaches {report[f'{name}_vs_oracle_ndcg@10']:.1%} of the oracle's NDCG@10")
    if report.get("model_vs_oracle_no_pair_noise_ndcg@10") is not None:
        print(
            f"model reaches {report['model_vs_oracle_no_pair_noise_ndcg@10']:.1%} of the NDCG@10 of the "
            "oracle without the pair's own apply noise"
        )
    return 0


def _print_ope(args: argparse.Namespace, scorers: dict, data, fit_rows, eval_rows) -> int:
    """``evaluate --ope``: IPS, SNIPS, DM and DR of each model on the test period's logged lists."""
    from models.ope import ope_report

    report = ope_report(scorers, data, fit_rows, eval_rows, k=args.k, market_dir=args.data, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"off-policy estimates on the test period: {report['lists']} logged lists, {report['rows']} shown "
        f"pairs; value = expected graded gain in the top {report['k']} had the model ranked each list"
    )
    print(f"logging policy (observed): {report['logging_policy']:.4f}")
    for name, entry in report["scorers"].items():
        true = entry.get("true")
        print(f"{name} ({entry['version']})" + (f": true value {true:.4f}" if true is not None else ""))
        for est in ("ips", "snips", "dm", "dr", "sndr"):
            e = entry[est]
            err = f"  error {100 * (e['estimate'] - true) / true:+.1f}%" if true else ""
            print(
                f"  {est.upper():<6}{e['estimate']:>9.4f}  95% CI [{e['ci_low']:.4f}, {e['ci_high']:.4f}]{err}"
            )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``gigmatch score``: score given (job, worker) pairs, each as of its first showing."""
    import numpy as np
    import pandas as pd

    from features.encode import encode_market
    from features.history import WorkerHistory
    from features.pairs import build_pairs
    from gigmatch.core.contract import load_market

    scorer = scorer_for(args.model)
    market = load_market(args.data)
    try:
        pairs = pd.read_csv(args.pairs, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CLIError(f"--pairs {args.pairs}: cannot be read ({exc})") from None
    for col in ("job_id", "worker_id"):
        if col not in pairs:
            raise CLIError(f"{Path(args.pairs).name}: missing required column '{col}'")
    W, J = encode_market(market)
    j = pd.Index(J.ids).get_indexer(pairs["job_id"])
    w = pd.Index(W.ids).get_indexer(pairs["worker_id"])
    for name, idx, col in (("job", j, "job_id"), ("worker", w, "worker_id")):
        if (idx < 0).any():
            pos = int(np.flatnonzero(idx < 0)[0])
            raise CLIError(
                f"{Path(args.pairs).name}: row {pos + 1}, column '{col}': unknown {name} {pairs[col].iloc[pos]!r}"
            )
    # as of the pair's first shown event when the log has one, else the job's posting
    ev = market.events
    shown = ev[ev["event"] == "shown"].groupby(["job_id", "worker_id"])["ts"].min()
    key = pd.MultiIndex.from_arrays([pairs["job_id"], pairs["worker_id"]])
    shown_ts = shown.reindex(key).to_numpy(dtype="datetime64[ns]")
    asof = np.where(np.isnat(shown_ts), J.posted_s[j], shown_ts.astype("int64") / 1e9)
    batch = build_pairs(J, W, j, w, history=WorkerHistory(ev, W.ids), asof_s=asof)
    out = pd.DataFrame(
        {"job_id": pairs["job_id"], "worker_id": pairs["worker_id"], "score": scorer.score(batch.X)}
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    print(f"scored {len(out)} pairs with {scorer.version} -> {args.out}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``gigmatch models list|promote|rollback``: the model registry."""
    from models.registry import Registry
    from models.train import promote

    reg = Registry(args.registry)
    if args.action == "list":
        current = reg.current()
        for v in reg.versions():
            m = reg.metadata(v)
            ndcg = m.get("metrics", {}).get("test", {}).get("scores", {}).get("model", {}).get("ndcg@10")
            print(f"{'*' if v == current else ' '} {v}  test NDCG@10 {ndcg}  data {m['data']['hash']}")
        if not reg.versions():
            print(f"no versions in {args.registry}")
    elif args.action == "promote":
        r = promote(args.registry, args.version, data_dir=args.data, force=args.force, gate_dr=args.gate_dr)
        print(json.dumps(r))
    elif args.action == "rollback":
        print(f"current is now {reg.rollback()}")
    return 0


def register(sub) -> None:
    """Add this module\'s commands to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "train",
        help="train the LambdaRank ranker from a market's event log",
        description="Train a LightGBM LambdaRank ranker on a market's shown pairs (point-in-time "
        "features, split by time) into a model registry; the first version becomes current.",
    )
    p.add_argument("--data", required=True, type=existing_dir, help="market folder with an event log")
    p.add_argument("--out", required=True, type=Path, help="model registry folder (created if missing)")
    p.add_argument("--params", type=existing_file, help="JSON file of LightGBM parameters")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed of the ranker")
    p.add_argument(
        "--dask",
        metavar="local|SCHEDULER_ADDRESS",
        default=None,
        help="train on a Dask cluster: 'local' starts one on this machine; default: in this process",
    )
    p.add_argument(
        "--no-debias",
        action="store_true",
        help="ignore logged positions (the naive model); by default they go to LightGBM's position-bias correction",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="model against baselines on the test period",
        description="NDCG@5/10, MAP and recall@10 of a model, the heuristic, distance only, skill only "
        "and (simulated markets) the oracle, on the market's test period.",
    )
    p.add_argument(
        "--model",
        type=model_path,
        action="append",
        help="model registry or version folder (repeat to compare models); without it the heuristic "
        "scorer (cold start)",
    )
    p.add_argument("--data", required=True, type=existing_dir, help="market folder with an event log")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument(
        "--ope",
        action="store_true",
        help="off-policy estimates (IPS, SNIPS, DM, DR, SNDR with 95%% CIs) from the logged positions and propensities",
    )
    p.add_argument("--k", type=positive_int, default=10, help="top positions counted by --ope (10)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of --ope's bootstrap and reward model")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "score",
        help="score given (job_id, worker_id) pairs offline",
        description="Score (job_id, worker_id) pairs, each as of its first showing in the log (else the "
        "job's posting), and write job_id, worker_id, score.",
    )
    p.add_argument(
        "--model",
        type=model_path,
        help="model registry or version folder; without it the heuristic scorer (cold start)",
    )
    p.add_argument("--data", required=True, type=existing_dir, help="market folder the pairs come from")
    p.add_argument("--pairs", required=True, type=existing_file, help="CSV with job_id and worker_id columns")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write the scores to")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "models",
        help="model registry: list | promote VERSION | rollback",
        description="The model registry: list its versions, promote one to current, or roll back.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    registry_help = "model registry folder (the --out of gigmatch train)"
    a = actions.add_parser(
        "list",
        help="the registry's versions with their test NDCG@10; * marks the current one",
        description="List a registry's versions with their test NDCG@10 and data hash; * marks current.",
    )
    a.add_argument("--registry", required=True, type=existing_dir, help=registry_help)
    a.set_defaults(func=cmd_models)
    a = actions.add_parser(
        "promote",
        help="make VERSION the current model if it is no worse on the holdout",
        description="Make VERSION current. Refused when it scores worse than the current model on "
        "the same holdout (the test period of --data, default the candidate's training data) unless "
        "--force.",
    )
    a.add_argument("version", metavar="VERSION", help="a version name from `gigmatch models list`")
    a.add_argument("--registry", required=True, type=existing_dir, help=registry_help)
    a.add_argument(
        "--data",
        type=existing_dir,
        help="market whose test period is the holdout; default: the candidate's training data",
    )
    a.add_argument("--force", action="store_true", help="promote even if worse on the holdout")
    a.add_argument(
        "--gate-dr",
        action="store_true",
        help="promote only if the doubly robust off-policy estimate on the holdout's logged lists is no worse",
    )
    a.set_defaults(func=cmd_models)
    a = actions.add_parser(
        "rollback",
        help="make the previously current version current again",
        description="Make the version that was current before the last promote current again.",
    )
    a.add_argument("--registry", required=True, type=existing_dir, help=registry_help)
    a.set_defaults(func=cmd_models)
