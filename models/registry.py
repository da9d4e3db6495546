"""Model artifacts and the model registry.

A model version is a folder holding ``model.joblib`` (the fitted :class:`models.ranker.GigRanker`)
and ``metadata.json``: version, feature names and schema hash, training data (path, content hash,
time ranges, row counts), parameters, metrics, library versions and git commit.

A registry is a folder::

    registry/
      versions/<version>/model.joblib, metadata.json
      current            the serving version (one line)
      history.json       earlier current versions, newest last (for rollback)

Loading refuses an artifact whose feature schema differs from the code's, naming both hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import joblib
import numpy as np

from features.registry import FEATURES

SCHEMA_VERSION = 1


class RegistryError(ValueError):
    """A registry or artifact problem, with a one-line message for the CLI and the API."""


def feature_schema_hash() -> str:
    """Hash of the feature registry (names, units, ranges, missing rules): changes when features do."""
    text = json.dumps([SCHEMA_VERSION, [(f.name, f.unit, f.range, f.missing) for f in FEATURES]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model depends on, ``{name: version}``, for its metadata.

    A library that is not installed is reported as ``"not installed"``.
    """
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "scikit-learn", "lightgbm", "pandas", "joblib", "gigmatch"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    """The git commit (``HEAD``) of the checkout this code runs from, or ``"unknown"`` outside one."""
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_hash(folder: str | Path) -> str:
    """sha256 over the market's table files (names and bytes)."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).glob("*")):
        if p.is_file() and p.suffix in (".csv", ".parquet"):
            h.update(p.name.encode())
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


class ModelScorer:
    """A loaded model version, with the scorer interface the matcher and the service use."""

    is_model = True

    def __init__(self, ranker, meta: dict, path: Path):
        self.ranker = ranker
        self.metadata = meta
        self.version = meta["version"]
        self.path = path

    def score(self, X: np.ndarray) -> np.ndarray:
        """Raw ranking scores, shape (n_pairs,)."""
        return self.ranker.predict(X)

    def match_weight(self, X: np.ndarray) -> np.ndarray:
        """Scores mapped into (0, 1) by the logistic function, for the assignment solver."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.score(X), -50, 50)))


def save_version(registry: str | Path, ranker, meta: dict) -> Path:
    """Write a new version folder atomically (temp folder, then rename); returns its path."""
    registry = Path(registry)
    versions = registry / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / meta["version"]
    if final.exists():
        raise RegistryError(f"version {meta['version']} already exists in {registry}")
    tmp = Path(tempfile.mkdtemp(dir=versions, prefix=".tmp-"))
    joblib.dump(ranker, tmp / "model.joblib")
    (tmp / "metadata.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False, default=str))
    os.replace(tmp, final)
    return final


def load_version(path: str | Path) -> ModelScorer:
    """Load one version folder, refusing broken artifacts and schema mismatches with a clear message."""
    path = Path(path)
    meta_path, model_path = path / "metadata.json", path / "model.joblib"
    if not meta_path.exists() or not model_path.exists():
        raise RegistryError(f"{path}: not a model version (needs model.joblib and metadata.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{meta_path}: unreadable metadata ({exc})") from None
    expected = feature_schema_hash()
    if meta.get("feature_schema_hash") != expected:
        raise RegistryError(
            f"{path}: feature schema {meta.get('feature_schema_hash')} does not match this code's {expected}; "
            "retrain the model with this version of gigmatch"
        )
    try:
        ranker = joblib.load(model_path)
        ranker.predict(np.zeros((1, len(meta["feature_names"])), dtype=np.float32))  # smoke test
    except Exception as exc:  # truncated or corrupt pickle, wrong object
        raise RegistryError(f"{model_path}: cannot be loaded ({type(exc).__name__}: {exc})") from None
    return ModelScorer(ranker, meta, path)


@dataclass
class Registry:
    """A model registry folder: version folders, the ``current`` pointer and its history (see above).

    Pointer files are replaced atomically (temporary file, then rename), so a reader sees the old or
    the new pointer, never a partial one.

    Parameters
    ----------
    root : Path or str
        The registry folder; nothing is created or read until a method is called.
    """

    root: Path

    def __post_init__(self):
        self.root = Path(self.root)

    @property
    def is_registry(self) -> bool:
        """Whether ``root`` is a registry (has a ``versions/`` folder), not, say, a version folder."""
        return (self.root / "versions").is_dir()

    def versions(self) -> list[str]:
        """Names of the saved versions, sorted by name (oldest first for trained ones); [] when none."""
        v = self.root / "versions"
        return (
            sorted(p.name for p in v.iterdir() if p.is_dir() and not p.name.startswith("."))
            if v.is_dir()
            else []
        )

    def current(self) -> str | None:
        """The serving version named by the ``current`` file, or None when there is none yet."""
        p = self.root / "current"
        return p.read_text().strip() or None if p.exists() else None

    def history(self) -> list[str]:
        """Earlier current versions from ``history.json``, newest last (what :meth:`rollback` returns to)."""
        p = self.root / "history.json"
        return json.loads(p.read_text()) if p.exists() else []

    def metadata(self, version: str) -> dict:
        """The parsed ``metadata.json`` of ``version`` (raises ``FileNotFoundError`` for an unknown one)."""
        return json.loads((self.root / "versions" / version / "metadata.json").read_text())

    def _write(self, name: str, text: str) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.root / name)  # atomic: a reader sees the old or the new pointer

    def set_current(self, version: str) -> None:
        """Make ``version`` current, appending the previous current version to the history.

        Both files are replaced atomically. Setting the version that is already current changes
        nothing but rewrites the pointer.

        Raises
        ------
        RegistryError
            When ``version`` is not one of :meth:`versions`.
        """
        if version not in self.versions():
            raise RegistryError(f"unknown version {version!r}; known: {', '.join(self.versions()) or 'none'}")
        old = self.current()
        if old and old != version:
            self._write("history.json", json.dumps([*self.history(), old]))
        self._write("current", version + "\n")

    def rollback(self) -> str:
        """Make the newest history entry current again, remove it from the history, and return it.

        Raises
        ------
        RegistryError
            When the history is empty.
        """
        hist = self.history()
        if not hist:
            raise RegistryError("nothing to roll back to: no earlier current version")
        previous = hist[-1]
        self._write("current", previous + "\n")
        self._write("history.json", json.dumps(hist[:-1]))
        return previous

    def load_current(self) -> ModelScorer:
        """Load the current version (see :func:`load_version`).

        Raises
        ------
        RegistryError
            When there is no current version, or its artifact is broken or has another feature schema.
        """
        version = self.current()
        if version is None:
            raise RegistryError(f"{self.root}: registry has no current model; promote one first")
        return load_version(self.root / "versions" / version)
