"""``gigmatch serve``: the scoring API over the store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gigmatch.cli._common import CLIError, existing_dir, model_path, positive_int


def cmd_serve(args: argparse.Namespace) -> int:
    """``gigmatch serve``: the API under uvicorn."""
    # LightGBM's OpenMP threads otherwise spin after every predict, taking a core from the requests
    # (measured: about 48 -> 65 req/s on 2 cores): gigmatch.cli.main has set OMP_WAIT_POLICY=PASSIVE
    # (gigmatch.core.threads.configure_threads) before anything loaded LightGBM; an explicit value wins.
    import uvicorn

    from models.registry import RegistryError
    from service.app import create_app
    from service.config import Settings, settings_error

    overrides = {
        k: v
        for k, v in {
            "data": args.data,
            "model": args.model,
            "db": args.db,
            "store": args.store,
            "host": args.host,
            "port": args.port,
            "demo": args.demo or None,
        }.items()
        if v is not None
    }
    if args.workers > 1:
        return _serve_workers(args.workers, overrides)
    try:
        settings = Settings(**overrides)
        app = create_app(settings)
    except RegistryError as exc:  # the one rule of models.scorer.load_scorer, named by flag or variable
        raise CLIError(f"{'--model' if args.model is not None else 'GIGMATCH_MODEL'} {exc}") from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise CLIError(settings_error(exc)) from None
    state = app.state.gigmatch
    counts = state.store.counts()
    print(
        f"gigmatch serving {counts['workers']} workers, {counts['jobs']} jobs, {counts['events']} events "
        f"from {app.state.gigmatch.store.repo.url} with model {state.scorer.version} on http://{settings.host}:{settings.port}"
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


def _serve_workers(workers: int, overrides: dict) -> int:
    """``--workers N``: N uvicorn worker processes behind one port, each a replica over the store.

    The settings travel to the workers as ``GIGMATCH_*`` variables. This process checks them, opens the
    store once (migrating it and seeding an empty one, under the store's lock) and then supervises:
    uvicorn restarts a worker that dies. The replicas follow each other's writes through the store's
    change feed, so a write answered by one worker is read by the others within a second.
    """
    import os

    import uvicorn

    from service.config import Settings, settings_error
    from service.state import seed_store

    try:
        settings = Settings(**overrides)
        settings.keys()
        for name, value in overrides.items():
            os.environ[f"GIGMATCH_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        counts, url = seed_store(settings)
    except (ValueError, OSError, RuntimeError) as exc:
        raise CLIError(settings_error(exc)) from None
    print(
        f"gigmatch serving {counts['workers']} workers, {counts['jobs']} jobs, {counts['events']} events "
        f"from {url} with {workers} "
        f"worker processes on http://{settings.host}:{settings.port}",
        flush=True,
    )
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
    )
    return 0


def register(sub) -> None:
    """Add this module\'s commands to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "serve",
        help="run the scoring API over the store (SQLite file or PostgreSQL)",
        description="Serve the API (rank, recommend, events, workers/jobs, assign, models) over the "
        "store. Each flag overrides its GIGMATCH_* environment variable; API keys come from "
        "GIGMATCH_API_KEYS (or --demo).",
    )
    p.add_argument(
        "--data",
        type=existing_dir,
        help="market folder that seeds an empty store (ignored once the store holds workers)",
    )
    p.add_argument(
        "--model",
        type=model_path,
        help="model registry or version folder; without it the heuristic scorer (cold start)",
    )
    p.add_argument(
        "--store",
        help="SQLite file path or postgresql://user:pass@host:port/db (default gigmatch.db; GIGMATCH_STORE)",
    )
    p.add_argument("--db", type=Path, help="SQLite store file (the older name of --store)")
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes behind the one port")
    p.add_argument("--host", help="address to listen on; default 127.0.0.1")
    p.add_argument("--port", type=positive_int, help="port to listen on; default 8000")
    p.add_argument("--demo", action="store_true", help="accept the published demo API keys")
    p.set_defaults(func=cmd_serve)
