"""Trade and certificate vocabularies: the built-in taxonomy, or a market's own.

A market speaks its own vocabulary. When a market folder holds ``trades`` and ``certificates`` tables
(see the README's data contract) they *replace* the built-in taxonomy (``gigmatch/core/data/taxonomy.json``)
for that market everywhere: validation, features, training, scoring, the batch run and the service.
Without them the built-in taxonomy applies. ``gigmatch taxonomy export`` writes the built-in one as
those two tables, so that a market can start from it.

Normalisation is one rule for trades and certificates alike: a text that is a code (compared without
case and surrounding blanks) is that code; otherwise a Chinese name, English name or synonym maps to
its code; anything else is kept as given (stripped) and matched as an exact string. Codes are
looked up before names, so a code is never captured by another entry's synonym; one alias naming two
entries is refused when a market declares it (:class:`VocabularyError`) and tested against in the
built-in taxonomy.

Rules a vocabulary carries (the hard constraints they imply are listed in the README):

- ``skill_required`` (default true): a worker needs the trade among their skills, or a related one;
  false marks an entry-level trade anyone may take. A trade code the vocabulary does not know needs
  the exact skill.
- ``required_certificates``: certificates every job of the trade needs, on top of the job's own.
- ``related``: partial skill credit in (0, 1] from a worker's skill to the trade.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

BUILT_IN = "built-in"


class VocabularyError(ValueError):
    """A market vocabulary that contradicts itself (one line, naming the table and the entries)."""


@dataclass(frozen=True)
class Trade:
    """One trade (工种). ``typical_daily_wage`` is in yuan (NaN when not given)."""

    code: str
    name_zh: str = ""
    name_en: str = ""
    synonyms: tuple[str, ...] = ()
    skill_required: bool = True
    required_certificates: tuple[str, ...] = ()
    related: dict[str, float] = field(default_factory=dict)
    typical_daily_wage: float = math.nan

    @property
    def open_to_all(self) -> bool:
        """Entry-level: anyone may take it, no listed skill needed."""
        return not self.skill_required


@dataclass(frozen=True)
class Certificate:
    """One certificate or licence (证书)."""

    code: str
    name_zh: str = ""
    name_en: str = ""
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """How a text was read: its ``code`` and ``how`` ("code", "name", "synonym" or "unknown")."""

    code: str
    how: str


def _key(text: str) -> str:
    return str(text).strip().casefold()


def _aliases(kind: str, items: Iterable[Trade | Certificate], strict: bool) -> dict[str, Reading]:
    """Alias -> reading; codes first. ``strict`` refuses an alias that names two entries."""
    items = list(items)
    alias: dict[str, Reading] = {}
    for item in items:
        alias[_key(item.code)] = Reading(item.code, "code")
    for item in items:
        names = [(item.name_zh, "name"), (item.name_en, "name"), *((s, "synonym") for s in item.synonyms)]
        for text, how in names:
            key = _key(text)
            if not key:
                continue
            known = alias.get(key)
            if known is None:
                alias[key] = Reading(item.code, how)
            elif known.code != item.code and strict:
                raise VocabularyError(
                    f"{kind}s: {text!r} names both {known.code!r} and {item.code!r}; an alias must name one {kind}"
                )
    return alias


class Taxonomy:
    """Lookup tables over a vocabulary of trades and certificates.

    Parameters
    ----------
    trades, certificates : iterables of :class:`Trade` and :class:`Certificate`.
    source : where the vocabulary comes from: ``"built-in"`` or the market folder it was read from.
    strict : refuse aliases that name two entries (market vocabularies); the built-in one is tested.
    """

    def __init__(
        self,
        trades: Iterable[Trade],
        certificates: Iterable[Certificate],
        *,
        source: str = BUILT_IN,
        strict: bool = True,
    ):
        self.trades: dict[str, Trade] = {t.code: t for t in trades}
        self.certificates: dict[str, Certificate] = {c.code: c for c in certificates}
        self.source = source
        self._trade_alias = _aliases("trade", self.trades.values(), strict)
        self._cert_alias = _aliases("certificate", self.certificates.values(), strict)

    @property
    def is_built_in(self) -> bool:
        """Whether this is the built-in vocabulary (``source == "built-in"``), not a market's own."""
        return self.source == BUILT_IN

    # ---- normalisation ------------------------------------------------------------------------------
    def read_trade(self, text: str) -> Reading:
        """How ``text`` reads as a trade: its code and whether by code, name, synonym or not at all."""
        return self._trade_alias.get(_key(text)) or Reading(str(text).strip(), "unknown")

    def read_certificate(self, text: str) -> Reading:
        """How ``text`` reads as a certificate (see :meth:`read_trade`)."""
        return self._cert_alias.get(_key(text)) or Reading(str(text).strip(), "unknown")

    def trade_code(self, text: str) -> str:
        """Normalise a trade code, name or synonym to its code; unknown text is returned stripped."""
        found = self._trade_alias.get(_key(text))
        return found.code if found is not None else str(text).strip()

    def certificate_code(self, text: str) -> str:
        """Normalise a certificate code, name or synonym to its code; unknown text is returned stripped."""
        found = self._cert_alias.get(_key(text))
        return found.code if found is not None else str(text).strip()

    # ---- rules --------------------------------------------------------------------------------------
    def required_certificates(self, trade: str) -> tuple[str, ...]:
        """Certificates every job of ``trade`` needs; () if none or the trade is unknown."""
        t = self.trades.get(trade)
        return t.required_certificates if t else ()

    def open_to_all(self, trade: str) -> bool:
        """Whether workers without the skill may take the trade (entry-level work). Unknown: False."""
        t = self.trades.get(trade)
        return bool(t and t.open_to_all)

    def related_pairs(self) -> list[tuple[str, str, float]]:
        """(job trade, worker skill, credit) for every related-trade link, credit in (0, 1]."""
        return [(job, skill, c) for job, t in self.trades.items() for skill, c in t.related.items()]

    def describe_trade_rule(self, trade: str) -> str:
        """The rule a trade code is matched by, in words (for reports and answers)."""
        t = self.trades.get(trade)
        where = "the built-in taxonomy" if self.is_built_in else "the market's trades table"
        if t is None:
            return f"not in {where}: the exact skill is needed, no certificate, no related-trade credit"
        need = "anyone may take it (entry-level)" if t.open_to_all else "the skill or a related one is needed"
        certs = f"; needs {', '.join(t.required_certificates)}" if t.required_certificates else ""
        return f"{need}{certs} (from {where})"

    # ---- tables -------------------------------------------------------------------------------------
    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The vocabulary as normalised ``trades`` and ``certificates`` frames (contract form, lists)."""
        trades = pd.DataFrame(
            {
                "trade": [t.code for t in self.trades.values()],
                "name_zh": [t.name_zh for t in self.trades.values()],
                "name_en": [t.name_en for t in self.trades.values()],
                "synonyms": [list(t.synonyms) for t in self.trades.values()],
                "required_certificates": [list(t.required_certificates) for t in self.trades.values()],
                "skill_required": [t.skill_required for t in self.trades.values()],
                "related": [list(t.related) for t in self.trades.values()],
                "related_credit": [list(t.related.values()) for t in self.trades.values()],
                "typical_daily_wage": [t.typical_daily_wage for t in self.trades.values()],
            }
        )
        certs = pd.DataFrame(
            {
                "certificate": [c.code for c in self.certificates.values()],
                "name_zh": [c.name_zh for c in self.certificates.values()],
                "name_en": [c.name_en for c in self.certificates.values()],
                "synonyms": [list(c.synonyms) for c in self.certificates.values()],
            }
        )
        return trades, certs

    @classmethod
    def from_frames(
        cls, trades: pd.DataFrame | None, certificates: pd.DataFrame | None, *, source: str
    ) -> Taxonomy:
        """A market vocabulary from validated ``trades`` and ``certificates`` frames (either may be None)."""
        certs = [
            Certificate(r.certificate, r.name_zh, r.name_en, tuple(r.synonyms))
            for r in (certificates.itertuples(index=False) if certificates is not None else ())
        ]
        rows = list(trades.itertuples(index=False)) if trades is not None else []
        out = [
            Trade(
                code=r.trade,
                name_zh=r.name_zh,
                name_en=r.name_en,
                synonyms=tuple(r.synonyms),
                skill_required=bool(r.skill_required),
                required_certificates=tuple(r.required_certificates),
                related=dict(zip(r.related, r.related_credit, strict=True)),
                typical_daily_wage=float(r.typical_daily_wage),
            )
            for r in rows
        ]
        return cls(out, certs, source=source, strict=True)

    def fingerprint(self) -> str:
        """A short hash of the whole vocabulary (recorded with models and batch runs)."""
        trades, certs = self.to_frames()
        text = json.dumps(
            [trades.astype(str).values.tolist(), certs.astype(str).values.tolist()], ensure_ascii=False
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Taxonomy({len(self.trades)} trades, {len(self.certificates)} certificates, {self.source})"


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy JSON file; the packaged built-in one when ``path`` is None."""
    if path is None:
        text = resources.files("gigmatch.core").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    raw = json.loads(text)
    trades = [
        Trade(
            code=t["code"],
            name_zh=t["zh"],
            name_en=t["en"],
            synonyms=tuple(t.get("synonyms", ())),
            skill_required=not bool(t.get("open_to_all", False)),
            required_certificates=tuple(t.get("required_certificates", ())),
            related=dict(t.get("related", {})),
            typical_daily_wage=float(t.get("typical_daily_wage", math.nan)),
        )
        for t in raw["trades"]
    ]
    certs = [
        Certificate(code=c["code"], name_zh=c["zh"], name_en=c["en"], synonyms=tuple(c.get("synonyms", ())))
        for c in raw["certificates"]
    ]
    return Taxonomy(trades, certs, source=BUILT_IN, strict=True)


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    """The built-in taxonomy (cached)."""
    return load_taxonomy()
