"""What every subcommand shares: the user-error type, argument types that name bad values, Dask."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from gigmatch.core.threads import thread_budget, worker_environment

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


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line naming the command (exit code 2).

    Every subcommand parser is one too (argparse makes subparsers of the parent's class), and every
    one shows each flag's default in ``--help`` (:class:`HelpFormatter`).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        """Print ``PROG: error: MESSAGE (see PROG --help)`` on stderr and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with ``(default: X)`` after each flag's text, except where there is no default to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def existing_dir(text: str) -> Path:
    """An argparse type: a folder that exists (``does not exist`` / ``is a file, not a folder`` otherwise)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: does not exist")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder")
    return path


def existing_path(text: str) -> Path:
    """An argparse type: a file or folder that exists."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: does not exist")
    return path


def existing_file(text: str) -> Path:
    """An argparse type: a file that exists."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: does not exist")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a file")
    return path


def model_path(text: str) -> Path:
    """An argparse type for ``--model``: a path that exists (a registry or a version folder).

    A mistyped path is refused at once, before any data is read, rather than scoring with the
    heuristic in its place; :func:`models.scorer.load_scorer` keeps the same rule for the service.
    """
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(
            f"{text}: does not exist (give a model registry or version folder, or leave --model out "
            "for the heuristic scorer)"
        )
    return path


def iso_date(text: str) -> str:
    """An argparse type: a calendar date ``YYYY-MM-DD`` (kept as text), e.g. ``2026-09-01``."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


positive_int = checked(int, lambda v: v >= 1, "at least 1", "a whole number")
nonneg_int = checked(int, lambda v: v >= 0, "0 or more", "a whole number")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a positive finite number", "a number")
finite_float = checked(float, math.isfinite, "a finite number", "a number")


class StageProgress:
    """A ``(stage) -> None`` callback that moves a rich progress bar forward only.

    A stage met again (the batch run's candidate rounds repeat features, score and solve) is shown
    as its next round, e.g. ``solve (round 2)``, while the bar stays where it was: it never runs
    backwards.

    Parameters
    ----------
    progress : rich.progress.Progress
        The display.
    task : int
        Its task id, whose total is ``len(stages)``.
    stages : sequence of str
        The stage names in order.
    """

    def __init__(self, progress, task, stages):
        self.progress, self.task, self.stages = progress, task, list(stages)
        self.completed = 0
        self.seen: dict[str, int] = {}

    def __call__(self, stage: str) -> None:
        """Show that ``stage`` has started."""
        self.seen[stage] = self.seen.get(stage, 0) + 1
        self.completed = max(self.completed, self.stages.index(stage))
        label = stage if self.seen[stage] == 1 else f"{stage} (round {self.seen[stage]})"
        self.progress.update(self.task, completed=self.completed, description=label)


def dask_client(address: str | None):
    """A Dask client: ``local`` starts a sized LocalCluster on this machine; None without an address."""
    if not address:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CLIError("--dask needs the dask extra: pip install 'gigmatch[dask]'") from None
    if address == "local":
        # one single-threaded worker process per thread of this process's budget (at least 2, so the
        # run is really spread), each told its size: LightGBM's Dask trainer gives each worker its
        # nthreads, and passive OpenMP waiting keeps the workers from spinning on each other's cores
        n_workers = max(2, thread_budget())
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=worker_environment(1),
        )
        return Client(cluster)
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
    """The scorer ``--model`` names (:func:`models.scorer.load_scorer`); says so when it is the heuristic.

    Every command that takes ``--model`` loads it here: a path that does not exist (or holds no
    usable model) is a user error naming the flag; no ``--model``, or an existing registry with no
    model yet, is cold start with one log line saying so.
    """
    from models.registry import RegistryError
    from models.scorer import load_scorer

    try:
        scorer = load_scorer(model)
    except RegistryError as exc:
        raise CLIError(f"--model {exc}") from None
    if not scorer.is_model:
        where = "no --model given" if model is None else f"no trained model in {model} yet"
        log.warning("%s: scoring with the heuristic scorer (%s, cold start)", where, scorer.version)
    return scorer
