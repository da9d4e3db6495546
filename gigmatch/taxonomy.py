"""Trade and certificate taxonomy, loaded from ``gigmatch/data/taxonomy.json`` (data, not code).

Codes are exact strings. Chinese and English names and synonyms normalise to the code
(``电焊工`` -> ``welding``); anything unknown is kept as given and matched as an exact string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Trade:
    code: str
    zh: str
    en: str
    synonyms: tuple[str, ...] = ()
    open_to_all: bool = False
    required_certificates: tuple[str, ...] = ()
    related: dict[str, float] = field(default_factory=dict)
    typical_daily_wage: float = 200.0


@dataclass(frozen=True)
class Certificate:
    code: str
    zh: str
    en: str
    synonyms: tuple[str, ...] = ()


def _key(text: str) -> str:
    return text.strip().casefold()


class Taxonomy:
    """Lookup tables over trades and certificates.

    Parameters
    ----------
    trades, certificates : lists of :class:`Trade` and :class:`Certificate`.
    """

    def __init__(self, trades: list[Trade], certificates: list[Certificate]):
        self.trades = {t.code: t for t in trades}
        self.certificates = {c.code: c for c in certificates}
        self._trade_alias = self._aliases(trades)
        self._cert_alias = self._aliases(certificates)

    @staticmethod
    def _aliases(items) -> dict[str, str]:
        alias: dict[str, str] = {}
        for item in items:
            for name in (item.code, item.zh, item.en, *item.synonyms):
                alias.setdefault(_key(name), item.code)
        return alias

    def trade_code(self, text: str) -> str:
        """Normalise a trade name or synonym to its code; unknown text is returned stripped."""
        return self._trade_alias.get(_key(text), text.strip())

    def certificate_code(self, text: str) -> str:
        """Normalise a certificate name or synonym to its code; unknown text is returned stripped."""
        return self._cert_alias.get(_key(text), text.strip())

    def required_certificates(self, trade: str) -> tuple[str, ...]:
        """Certificates every job of ``trade`` needs (restricted trades, 特种作业); () if none or unknown."""
        t = self.trades.get(trade)
        return t.required_certificates if t else ()

    def open_to_all(self, trade: str) -> bool:
        """Whether workers without the skill may take the trade (entry-level work). Unknown: False."""
        t = self.trades.get(trade)
        return bool(t and t.open_to_all)

    def related_pairs(self) -> list[tuple[str, str, float]]:
        """(job trade, worker skill, credit) for every related-trade link, credit in (0, 1)."""
        return [(job, skill, c) for job, t in self.trades.items() for skill, c in t.related.items()]


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy JSON file; the packaged one when ``path`` is None."""
    if path is None:
        text = resources.files("gigmatch").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    raw = json.loads(text)
    trades = [
        Trade(
            code=t["code"],
            zh=t["zh"],
            en=t["en"],
            synonyms=tuple(t.get("synonyms", ())),
            open_to_all=bool(t.get("open_to_all", False)),
            required_certificates=tuple(t.get("required_certificates", ())),
            related=dict(t.get("related", {})),
            typical_daily_wage=float(t.get("typical_daily_wage", 200.0)),
        )
        for t in raw["trades"]
    ]
    certs = [
        Certificate(code=c["code"], zh=c["zh"], en=c["en"], synonyms=tuple(c.get("synonyms", ())))
        for c in raw["certificates"]
    ]
    return Taxonomy(trades, certs)


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    return load_taxonomy()
