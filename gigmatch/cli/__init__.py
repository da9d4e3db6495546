"""The ``gigmatch`` command line: one entry point, one subcommand per job.

Every subcommand validates its input at the boundary; a bad flag or file ends the run with exit code 2
and one line on stderr naming the problem (no stack trace). Each module of this package registers its
commands (``register(subparsers)``); :data:`COMMANDS` lists them in the order ``--help`` shows.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gigmatch.cli import assign, data, dispatch, loop, ranker, replay, serve, store
from gigmatch.cli._common import CLIError, Parser
from gigmatch.core.contract import ContractError
from gigmatch.core.threads import configure_threads

COMMANDS = (data, assign, ranker, serve, replay, store, dispatch, loop)


def package_version() -> str:
    """The installed distribution's version (the source tree's when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gigmatch")
    except PackageNotFoundError:
        from gigmatch import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(prog="gigmatch", description="Matching engine for casual-labour markets.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"gigmatch {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code (0 ok, 2 a user error in one line, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # errors name the command as typed: `gigmatch models promote: error: ...`
    name = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    try:  # before any command loads LightGBM: passive OpenMP waiting, pools sized to GIGMATCH_THREADS
        configure_threads()
    except ValueError as exc:
        print(f"gigmatch {name}: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ContractError, CLIError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"gigmatch {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gigmatch {name}: interrupted", file=sys.stderr)
        return 130
