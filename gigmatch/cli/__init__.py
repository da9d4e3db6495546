"""The ``gigmatch`` command line: one entry point, one subcommand per job.

Every subcommand validates its input at the boundary; a bad flag or file ends the run with exit code 2
and one line on stderr naming the problem (no stack trace).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gigmatch")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _checked(cast, ok, rule: str, kind: str):
    """An argparse type: ``cast`` the text, then require ``ok(value)``; messages name the value."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} must be {rule}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v >= 1, "at least 1", "a whole number")
_nonneg_int = _checked(int, lambda v: v >= 0, "0 or more", "a whole number")
_positive_float = _checked(
    float, lambda v: math.isfinite(v) and v > 0, "a positive finite number", "a number"
)
_finite_float = _checked(float, math.isfinite, "a finite number", "a number")


# ---------------------------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from gigmatch.core.contract import load_vocabulary
    from gigmatch.sim import SimulationConfig, write_simulation

    taxonomy = None
    if args.taxonomy is not None:
        if not args.taxonomy.is_dir():
            raise CLIError(f"--taxonomy {args.taxonomy}: not a folder with trades/certificates tables")
        taxonomy = load_vocabulary(args.taxonomy)
        if taxonomy.is_built_in:
            raise CLIError(
                f"--taxonomy {args.taxonomy}: holds no trades.csv/.parquet or certificates.csv/.parquet"
            )

    config = SimulationConfig(
        region=args.region,
        workers=args.workers,
        jobs=args.jobs,
        days=args.days,
        seed=args.seed,
        start=args.start,
        shown_per_job=args.shown_per_job,
    )
    summary = write_simulation(config, args.out, fmt=args.format, taxonomy=taxonomy)
    print(
        f"simulated {summary['region']['full_name']}: {summary['workers']} workers, {summary['jobs']} jobs, "
        f"{summary['events']} events ({summary['shown_pairs']} shown pairs) -> {args.out}"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gigmatch.core.contract import Readings, load_market
    from gigmatch.core.vocabulary import format_report, vocabulary_report

    readings = Readings()
    m = load_market(args.data, readings=readings)
    report = vocabulary_report(m, readings)
    if args.json:
        counts = {t: len(getattr(m, t)) for t in ("workers", "jobs", "employers", "events")}
        print(json.dumps({**counts, "vocabulary": report}, ensure_ascii=False, indent=1))
    else:
        print(format_report(m, report))
    return 0


def cmd_taxonomy(args: argparse.Namespace) -> int:
    from gigmatch.core.contract import write_vocabulary
    from gigmatch.core.taxonomy import default_taxonomy

    tax = default_taxonomy()
    write_vocabulary(tax, args.out, fmt=args.format)
    print(
        f"wrote the built-in taxonomy ({len(tax.trades)} trades, {len(tax.certificates)} certificates) as "
        f"{args.out / ('trades.' + args.format)} and {args.out / ('certificates.' + args.format)}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gigmatch", description="Matching engine for casual-labour markets."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a county market with an event log and its oracle")
    p.add_argument("--region", default="将乐县", help="county or district name, full name or adcode")
    p.add_argument("--workers", type=_positive_int, default=10_000)
    p.add_argument("--jobs", type=_positive_int, default=2_000)
    p.add_argument("--days", type=_positive_int, default=30)
    p.add_argument("--seed", type=_nonneg_int, default=7)
    p.add_argument("--start", default="2026-09-01", help="first day of the log, YYYY-MM-DD")
    p.add_argument("--shown-per-job", type=_positive_int, default=30)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument(
        "--taxonomy",
        type=Path,
        help="folder with trades/certificates tables: simulate a market that speaks this vocabulary",
    )
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "validate", help="validate a market folder and report how its trade and certificate codes were read"
    )
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--json", action="store_true", help="the counts and the vocabulary report as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("taxonomy", help="the built-in trade and certificate taxonomy")
    p.add_argument("action", choices=["export"], help="export: write it as trades/certificates tables")
    p.add_argument(
        "--out", required=True, type=Path, help="folder to write trades.csv and certificates.csv to"
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.set_defaults(func=cmd_taxonomy)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from gigmatch.core.contract import ContractError

    try:
        return int(args.func(args) or 0)
    except (ContractError, CLIError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"gigmatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gigmatch {args.command}: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------------------
# assign


def _load_scorer(model_dir: Path | None):
    """The registry's current model, or the heuristic scorer (cold start) when none is given/found."""
    from models.heuristic import HeuristicScorer

    if model_dir is None:
        log.info("no model given: using the heuristic scorer (%s)", HeuristicScorer.version)
        return HeuristicScorer()
    from models.registry import load_scorer

    scorer = load_scorer(model_dir)
    if not getattr(scorer, "is_model", False):
        log.info("no trained model in %s: using the heuristic scorer (%s)", model_dir, scorer.version)
    return scorer


def _dask_client(address: str | None):
    if not address:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CLIError("--dask needs the dask extra: pip install 'gigmatch[dask]'") from None
    if address == "local":
        return Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    return Client(address)


def cmd_assign(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from gigmatch.core.contract import load_market
    from matcher.batch import run_batch
    from matcher.report import write_outputs

    stages = ["load", "encode", "retrieve", "features", "score", "solve", "explain", "write"]
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("assign", total=len(stages))

        def step(stage: str) -> None:
            progress.update(task, completed=stages.index(stage), description=stage)

        step("load")
        market = load_market(args.data)
        scorer = _load_scorer(args.model)
        client = _dask_client(args.dask)
        try:
            result = run_batch(
                market,
                scorer,
                max_km=args.max_km,
                objective=args.objective,
                worker_capacity=args.worker_capacity,
                min_score=args.min_score,
                candidates_per_slot=args.candidates_per_slot,
                client=client,
                progress=step,
            )
        finally:
            if client is not None:
                client.close()
        step("write")
        write_outputs(result, args.out)
    s = result.summary
    print(
        f"filled {s['filled']}/{s['slots']} slots ({s['fill_rate']:.1%}), mean distance {s['mean_distance_km']} km, "
        f"solver {s['solver_seconds']} s, model {s['model_version']} -> {args.out}"
    )
    return 0


def _register_assign(sub) -> None:
    p = sub.add_parser("assign", help="batch assignment of a market's jobs to nearby workers")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--model", type=Path, help="model dir or registry; default: the heuristic scorer")
    p.add_argument("--max-km", type=_positive_float, default=15.0)
    p.add_argument("--objective", choices=["fill", "weight"], default="fill")
    p.add_argument("--worker-capacity", type=_nonneg_int, default=1)
    p.add_argument("--min-score", type=_finite_float, default=None)
    p.add_argument(
        "--candidates-per-slot",
        type=_positive_int,
        default=30,
        help="each job keeps this many nearest able workers per slot (default 30)",
    )
    p.add_argument("--dask", metavar="local|SCHEDULER_ADDRESS", default=None)
    p.set_defaults(func=cmd_assign)


_EXTRA_COMMANDS.append(_register_assign)


# ---------------------------------------------------------------------------------------------------
# models: train, evaluate, score, registry


def _load_params(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        params = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"--params {path}: not a readable JSON object ({exc})") from None
    if not isinstance(params, dict):
        raise CLIError(f"--params {path}: must hold a JSON object of LightGBM parameters")
    return params


def cmd_train(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from models.train import train

    stages = ["load", "features", "train", "evaluate", "save"]
    client = _dask_client(args.dask)
    try:
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("train", total=len(stages))
            step = lambda s: progress.update(task, completed=stages.index(s), description=s)  # noqa: E731
            scorer, meta = train(
                args.data,
                args.out,
                seed=args.seed,
                params=_load_params(args.params),
                dask_client=client,
                progress=step,
            )
    finally:
        if client is not None:
            client.close()
    test = meta["metrics"]["test"]
    print(f"trained {meta['version']} in {meta['timing_seconds']['total']} s -> {scorer.path}")
    print(
        f"test NDCG@10: model {test['scores']['model']['ndcg@10']:.4f}, heuristic {test['scores']['heuristic']['ndcg@10']:.4f}"
        + (f", oracle {test['scores']['oracle']['ndcg@10']:.4f}" if "oracle" in test["scores"] else "")
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from gigmatch.core.contract import load_market
    from models.dataset import build_training_set, time_split
    from models.evaluate import evaluate
    from models.registry import load_scorer

    scorer = load_scorer(args.model)
    data = build_training_set(load_market(args.data))
    _, _, te = time_split(data)
    report = evaluate(scorer, data.subset(te), args.data)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"test period {report['period'][0]} .. {report['period'][1]}: {report['queries']} jobs, {report['rows']} shown pairs"
    )
    print(f"{'scorer':<16}{'NDCG@5':>9}{'NDCG@10':>9}{'MAP':>9}{'R@10':>9}")
    for name, m in report["scores"].items():
        label = f"model ({scorer.version})" if name == "model" else name
        print(
            f"{label[:16]:<16}{m['ndcg@5']:>9.4f}{m['ndcg@10']:>9.4f}{m['map']:>9.4f}{m['recall@10']:>9.4f}"
        )
    if report.get("model_vs_oracle_ndcg@10") is not None:
        print(f"model reaches {report['model_vs_oracle_ndcg@10']:.1%} of the oracle's NDCG@10")
    if report.get("model_vs_oracle_no_pair_noise_ndcg@10") is not None:
        print(
            f"model reaches {report['model_vs_oracle_no_pair_noise_ndcg@10']:.1%} of the NDCG@10 of the "
            "oracle without the pair's own apply noise"
        )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from features.encode import encode_market
    from features.history import WorkerHistory
    from features.pairs import build_pairs
    from gigmatch.core.contract import load_market
    from models.registry import load_scorer

    scorer = load_scorer(args.model)
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
        if not args.version:
            raise CLIError("promote needs a VERSION (see `gigmatch models list`)")
        r = promote(args.registry, args.version, data_dir=args.data, force=args.force)
        print(json.dumps(r))
    elif args.action == "rollback":
        print(f"current is now {reg.rollback()}")
    return 0


def _register_models(sub) -> None:
    p = sub.add_parser("train", help="train the LambdaRank ranker from a market's event log")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="model registry folder (created if missing)")
    p.add_argument("--params", type=Path, help="JSON file of LightGBM parameters")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--dask", metavar="local|SCHEDULER_ADDRESS", default=None)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="model against baselines on the test period")
    p.add_argument("--model", type=Path, help="registry or version folder; default: heuristic (cold start)")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("score", help="score given (job_id, worker_id) pairs offline")
    p.add_argument("--model", type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--pairs", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("models", help="model registry: list | promote VERSION | rollback")
    p.add_argument("action", choices=["list", "promote", "rollback"])
    p.add_argument("version", nargs="?")
    p.add_argument("--registry", required=True, type=Path)
    p.add_argument("--data", type=Path, help="market whose test period is the promote holdout")
    p.add_argument("--force", action="store_true", help="promote even if worse on the holdout")
    p.set_defaults(func=cmd_models)


_EXTRA_COMMANDS.append(_register_models)


# ---------------------------------------------------------------------------------------------------
# serve


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    # LightGBM's OpenMP threads otherwise spin after every predict, taking a core from the requests
    # (measured: about 48 -> 65 req/s on 2 cores). Set before LightGBM is loaded; an explicit value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import uvicorn

    from service.app import create_app
    from service.config import Settings

    overrides = {
        k: v
        for k, v in {
            "data": args.data,
            "model": args.model,
            "db": args.db,
            "host": args.host,
            "port": args.port,
            "demo": args.demo or None,
        }.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
        app = create_app(settings)
    except (ValueError, OSError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    state = app.state.gigmatch
    counts = state.store.counts()
    print(
        f"gigmatch serving {counts['workers']} workers, {counts['jobs']} jobs, {counts['events']} events "
        f"from {settings.db} with model {state.scorer.version} on http://{settings.host}:{settings.port}"
    )
    if settings.demo:
        job = state.store.snapshot().jobs.ids[0] if counts["jobs"] else "JOB_ID"
        url = f"http://{settings.host}:{settings.port}/v1/rank"
        body = json.dumps({"job_id": str(job), "limit": 5})
        print(
            f"try:\n  curl -s -X POST {url} -H 'Authorization: Bearer demo-backend-key' "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
    # uvicorn's access log would print concrete paths (ids); service.middleware logs route templates instead
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _register_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the scoring API over the embedded SQLite store")
    p.add_argument("--data", type=Path, help="market folder that seeds an empty store")
    p.add_argument("--model", type=Path, help="model registry or version folder (default: heuristic)")
    p.add_argument("--db", type=Path, help="SQLite store file (default gigmatch.db)")
    p.add_argument("--host")
    p.add_argument("--port", type=_positive_int)
    p.add_argument("--demo", action="store_true", help="accept the published demo API keys")
    p.set_defaults(func=cmd_serve)


_EXTRA_COMMANDS.append(_register_serve)


if __name__ == "__main__":
    sys.exit(main())
