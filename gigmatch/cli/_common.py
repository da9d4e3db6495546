"""What every subcommand shares: the user-error type, argument types that name bad values, Dask."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

log = logging.getLogger("gigmatch")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def checked(cast, ok, rule: str, kind: str):
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


positive_int = checked(int, lambda v: v >= 1, "at least 1", "a whole number")
nonneg_int = checked(int, lambda v: v >= 0, "0 or more", "a whole number")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a positive finite number", "a number")
finite_float = checked(float, math.isfinite, "a finite number", "a number")


def dask_client(address: str | None):
    """A Dask client: ``local`` starts a LocalCluster of two worker processes; None without an address."""
    if not address:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CLIError("--dask needs the dask extra: pip install 'gigmatch[dask]'") from None
    if address == "local":
        return Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    return Client(address)


def load_params(path: Path | None) -> dict:
    """LightGBM parameters from a JSON file (``{}`` without one); a bad file is a user error."""
    if path is None:
        return {}
    try:
        params = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIError(f"--params {path}: not a readable JSON object ({exc})") from None
    if not isinstance(params, dict):
        raise CLIError(f"--params {path}: must hold a JSON object of LightGBM parameters")
    return params


def scorer_for(model: Path | None):
    """The scorer ``--model`` names (:func:`models.scorer.load_scorer`); says so when it is the heuristic."""
    from models.scorer import load_scorer

    scorer = load_scorer(model)
    if not scorer.is_model:
        where = "no model given" if model is None else f"no trained model in {model}"
        log.info("%s: using the heuristic scorer (%s)", where, scorer.version)
    return scorer
