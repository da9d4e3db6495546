"""Online experiments: several models served at once, by traffic share or interleaved (issue #17).

``GIGMATCH_EXPERIMENT`` holds the experiment as JSON, or the path of a JSON file::

    {"name": "ranker-2026-12", "mode": "split",
     "variants": [{"name": "control", "model": "20261120T...-s1", "share": 0.5},
                  {"name": "debiased", "model": "20261123T...-s7", "share": 0.5}]}

- ``model`` is a version of the server's registry (``GIGMATCH_MODEL``), a path to a registry or a
  version folder, or ``heuristic`` (the cold-start scorer).
- ``mode: "split"`` (default): each request is assigned to one variant by a stable hash of its unit,
  the job id for ``/v1/rank`` and the worker id for ``/v1/recommend`` (an inline job or worker is
  hashed by its content), so a job always sees the same variant; shares are positive and sum to 1.
- ``mode: "interleave"``: exactly two variants; every list merges their two rankings by team draft
  (Radlinski et al., CIKM'08): in each round a coin, seeded by the unit and the round, says which
  team picks first, and each team adds its best worker not yet listed. Each item's ``policy`` is its
  team's model version, so the platform's ``shown`` events carry the credit back; shares are ignored.

Assignment: ``u = int(sha256(experiment name + ":" + unit id)[:16], 16) / 2**64`` falls into the
variant whose cumulative share interval holds it. Changing the name reshuffles every unit; changing the
shares moves only the units between the old and new boundaries.

The variants' models are loaded when the server starts and stay fixed for the experiment's life;
``POST /v1/models/reload`` swaps only the model served outside an experiment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("split", "interleave")


class ExperimentError(ValueError):
    """A bad experiment definition; the message names the field."""


@dataclass(frozen=True)
class Variant:
    """One arm: a name, the model it serves (as configured) and its traffic share."""

    name: str
    model: str
    share: float


@dataclass
class Experiment:
    """A parsed experiment; :func:`load_scorers` fills ``scorers`` (variant name -> Scorer)."""

    name: str
    mode: str
    variants: list[Variant]
    scorers: dict = field(default_factory=dict)

    def assign(self, unit_id: str) -> Variant:
        """The variant of a unit (a job or worker id): a stable hash into the cumulative shares."""
        u = unit_hash(self.name, unit_id)
        edge = 0.0
        for variant in self.variants:
            edge += variant.share
            if u < edge:
                return variant
        return self.variants[-1]  # u within rounding of 1


def unit_hash(name: str, unit_id: str) -> float:
    """A uniform number in [0, 1) fixed by the experiment's name and the unit's id (sha256)."""
    digest = hashlib.sha256(f"{name}:{unit_id}".encode()).hexdigest()
    return int(digest[:16], 16) / 2**64


def parse_experiment(text: str) -> Experiment:
    """An experiment from JSON text or the path of a JSON file (see the module docstring).

    Raises
    ------
    ExperimentError
        One line naming the field and the problem.
    """
    text = text.strip()
    if not text.startswith("{"):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExperimentError(f"GIGMATCH_EXPERIMENT: neither JSON nor a readable file ({exc})") from None
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ExperimentError(f"GIGMATCH_EXPERIMENT: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ExperimentError("GIGMATCH_EXPERIMENT: must be a JSON object")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError("GIGMATCH_EXPERIMENT.name: a non-empty string is required")
    mode = spec.get("mode", "split")
    if mode not in MODES:
        raise ExperimentError(f"GIGMATCH_EXPERIMENT.mode: {mode!r} is not one of {', '.join(MODES)}")
    raw = spec.get("variants")
    if not isinstance(raw, list) or not raw:
        raise ExperimentError("GIGMATCH_EXPERIMENT.variants: a non-empty list is required")
    variants = []
    for i, v in enumerate(raw):
        where = f"GIGMATCH_EXPERIMENT.variants.{i}"
        if not isinstance(v, dict):
            raise ExperimentError(f"{where}: must be an object with name, model and share")
        vname, model = v.get("name"), v.get("model")
        if not isinstance(vname, str) or not vname.strip():
            raise ExperimentError(f"{where}.name: a non-empty string is required")
        if not isinstance(model, str) or not model.strip():
            raise ExperimentError(f"{where}.model: a model version, path or 'heuristic' is required")
        share = v.get("share", 1.0 / len(raw) if mode == "interleave" else None)
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ExperimentError(f"{where}.share: {share!r} is not a number in (0, 1]")
        variants.append(Variant(vname.strip(), model.strip(), float(share)))
    names = [v.name for v in variants]
    if len(set(names)) < len(names):
        raise ExperimentError("GIGMATCH_EXPERIMENT.variants: variant names must be unique")
    if mode == "interleave" and len(variants) != 2:
        raise ExperimentError(
            f"GIGMATCH_EXPERIMENT.variants: interleave needs exactly 2, got {len(variants)}"
        )
    total = sum(v.share for v in variants)
    if mode == "split" and abs(total - 1.0) > 1e-6:
        raise ExperimentError(f"GIGMATCH_EXPERIMENT.variants: shares sum to {total:g}, expected 1")
    return Experiment(name.strip(), mode, variants)


def team_draft(
    ranking_a: list[str], ranking_b: list[str], limit: int, seed_key: str
) -> list[tuple[str, int]]:
    """Team-draft interleaving of two rankings: ``[(item, team), ...]``, team 0 for A and 1 for B.

    Parameters
    ----------
    ranking_a, ranking_b : list of str
        Item ids, best first.
    limit : int
        Length of the merged list (at most the number of distinct items).
    seed_key : str
        Fixes the coins (which team picks first in each round): the same key gives the same list.

    Returns
    -------
    list of (item id, team)
    """
    rankings = (ranking_a, ranking_b)
    taken: set[str] = set()
    out: list[tuple[str, int]] = []
    cursor = [0, 0]
    n_distinct = len(set(ranking_a) | set(ranking_b))
    rnd = 0
    while len(out) < min(limit, n_distinct):
        first = int(unit_hash(seed_key, str(rnd)) < 0.5)
        for team in (first, 1 - first):
            if len(out) >= limit:
                break
            ranking = rankings[team]
            while cursor[team] < len(ranking) and ranking[cursor[team]] in taken:
                cursor[team] += 1
            if cursor[team] < len(ranking):
                item = ranking[cursor[team]]
                taken.add(item)
                out.append((item, team))
        rnd += 1
    return out


def load_scorers(experiment: Experiment, registry: Path | None) -> Experiment:
    """Load each variant's model into ``experiment.scorers`` (see the module docstring for ``model``).

    Raises
    ------
    ExperimentError
        When a variant's model is neither ``heuristic``, a version of ``registry`` nor a loadable path.
    """
    from models.heuristic import HeuristicScorer
    from models.registry import RegistryError, load_version
    from models.scorer import load_scorer

    for i, v in enumerate(experiment.variants):
        where = f"GIGMATCH_EXPERIMENT.variants.{i}.model"
        try:
            if v.model == "heuristic":
                experiment.scorers[v.name] = HeuristicScorer()
            elif registry is not None and (Path(registry) / "versions" / v.model / "metadata.json").exists():
                experiment.scorers[v.name] = load_version(Path(registry) / "versions" / v.model)
            elif Path(v.model).exists():
                experiment.scorers[v.name] = load_scorer(Path(v.model))
            else:
                raise ExperimentError(
                    f"{where}: {v.model!r} is neither 'heuristic', a version of the registry {registry} nor a path"
                )
        except RegistryError as exc:
            raise ExperimentError(f"{where}: {exc}") from None
    return experiment
