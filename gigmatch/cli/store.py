"""``gigmatch store info|copy``: what a store holds, and copying a store between SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import json

from gigmatch.cli._common import CLIError


def _open(url: str, must_exist: bool = False):
    from pathlib import Path

    from service.store import is_postgres, open_repository
    from service.store.repository import StoreUnavailable

    if must_exist and "://" not in url and not is_postgres(url) and not Path(url).is_file():
        raise CLIError(f"no store at {url}")
    try:
        return open_repository(url)
    except StoreUnavailable as exc:
        raise CLIError(str(exc)) from None


def cmd_info(args: argparse.Namespace) -> int:
    """``gigmatch store info``: backend, schema version, rows per table, streams and record kinds."""
    from service.store.copy import describe
    from service.store.migrations import latest

    repo = _open(args.store, must_exist=True)
    try:
        info = describe(repo)
    finally:
        repo.close()
    backend = "postgres" if info["store"].startswith(("postgresql://", "postgres://")) else "sqlite"
    info["schema_latest_known"] = latest(backend)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(
        f"store {info['store']} ({backend}), schema version {info['schema_version']} "
        f"(this gigmatch knows up to {info['schema_latest_known']})"
    )
    print("  " + ", ".join(f"{n} {t}" for t, n in info["counts"].items()))
    for kind in ("streams", "records"):
        if info[kind]:
            print(f"  {kind}: " + ", ".join(f"{k} ({n})" for k, n in info[kind].items()))
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    """``gigmatch store copy --from SRC --to DST``: everything of one store into an empty other one."""
    from service.store.copy import copy_store

    if args.source == args.target:
        raise CLIError("--from and --to name the same store")
    source = _open(args.source, must_exist=True)
    try:
        target = _open(args.target)
        try:
            copied = copy_store(source, target)
        finally:
            target.close()
    finally:
        source.close()
    print(f"copied {source.url} -> {target.url}: " + ", ".join(f"{n} {k}" for k, n in copied.items()))
    return 0


def register(sub) -> None:
    """Add this module's commands to the subcommand parsers ``sub``."""
    p = sub.add_parser("store", help="inspect a store, or copy one between SQLite and PostgreSQL")
    commands = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    info = commands.add_parser("info", help="backend, schema version, rows per table")
    info.add_argument("--store", required=True, help="SQLite file path or postgresql:// URL")
    info.add_argument("--json", action="store_true", help="the figures as JSON")
    info.set_defaults(func=cmd_info)
    copy = commands.add_parser("copy", help="copy every table, event, stream and record into an empty store")
    copy.add_argument("--from", dest="source", required=True, help="SQLite file path or postgresql:// URL")
    copy.add_argument("--to", dest="target", required=True, help="SQLite file path or postgresql:// URL")
    copy.set_defaults(func=cmd_copy)
