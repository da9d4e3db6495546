"""Versioned schema migrations: numbered SQL files per backend, applied in order at start.

``migrations/<backend>/NNNN_name.sql`` are the steps of one backend's schema; a store records the
versions applied in its ``schema_version`` table. :func:`plan` lists what a store at a given version
still needs and refuses a store written by a newer gigmatch (:class:`SchemaTooNew`, one line), so an
old replica never writes to a schema it does not know. Each backend runs the plan in one transaction
under its own cross-process lock, so replicas that start together migrate once.

Why not Alembic: gigmatch has no ORM models for Alembic to diff, two backends with a handful of
tables, and needs the same plain SQL to run on SQLite and PostgreSQL with no extra dependency; a
directory of numbered files and thirty lines of runner say exactly what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

BACKENDS = ("sqlite", "postgres")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNew(ValueError):
    """The store was migrated by a newer gigmatch than this one."""


@dataclass(frozen=True)
class Migration:
    """One numbered step: ``version`` (1, 2, ...), its ``name`` and its SQL ``script``."""

    version: int
    name: str
    script: str

    def statements(self) -> list[str]:
        """The script's statements (split on ``;`` at line ends; comments dropped)."""
        text = "\n".join(line for line in self.script.splitlines() if not line.strip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]


def migrations(backend: str) -> list[Migration]:
    """Every migration of ``backend`` in version order (versions must be 1, 2, ... without gaps)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown store backend {backend!r}")
    folder = resources.files(__package__) / backend
    steps = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            steps.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    steps.sort(key=lambda m: m.version)
    if [m.version for m in steps] != list(range(1, len(steps) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {[m.version for m in steps]}")
    return steps


def latest(backend: str) -> int:
    """The newest schema version this gigmatch knows for ``backend``."""
    return len(migrations(backend))


def plan(backend: str, current: int, where: str) -> list[Migration]:
    """The migrations a store at schema version ``current`` still needs.

    Raises
    ------
    SchemaTooNew
        When ``current`` is newer than :func:`latest` (``where`` names the store in the message).
    """
    known = latest(backend)
    if current > known:
        raise SchemaTooNew(
            f"store {where} has schema version {current}, newer than this gigmatch knows ({known}): "
            "upgrade gigmatch before starting it against this store"
        )
    return [m for m in migrations(backend) if m.version > current]
