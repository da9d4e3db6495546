"""Service settings: flags or ``GIGMATCH_*`` environment variables (pydantic settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gigmatch.core.defaults import DEFAULT_MAX_KM

DEMO_KEYS = "demo-backend-key:backend,demo-operator-key:operator"
ROLES = ("backend", "operator")


class Settings(BaseSettings):
    """The service's settings, read from ``GIGMATCH_*`` environment variables (e.g. ``GIGMATCH_DB``).

    Attributes
    ----------
    db : SQLite file of the store (created if missing; WAL mode).
    data : market folder that seeds an empty store (ignored once the store holds workers).
    model : model registry or version folder; empty = heuristic scorer (cold start).
    api_keys : ``key:role`` pairs separated by commas; roles ``backend`` and ``operator``.
    demo : allow the published demo keys (never in production).
    max_body_bytes : larger requests get 413 before they are read.
    max_inflight : CPU-bound requests running at once; more wait up to ``queue_timeout_s``, then 503.
    events_refresh_s : how often ingested events reach the features (history, filled jobs).
    rerank_top : the model re-ranks this many heuristic-best eligible candidates (0 = all of them).
    experiment : an online experiment, JSON or the path of a JSON file (``service/experiments.py``);
        empty: none, every request is served by ``model``.
    """

    model_config = SettingsConfigDict(env_prefix="GIGMATCH_", extra="ignore")

    db: Path = Path("gigmatch.db")
    data: Path | None = None
    model: Path | None = None
    api_keys: str = ""
    demo: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(2_000_000, ge=1_000)
    max_inflight: int = Field(4, ge=1)
    queue_timeout_s: float = Field(2.0, gt=0)
    default_max_km: float = Field(DEFAULT_MAX_KM, gt=0)
    events_refresh_s: float = Field(2.0, gt=0, le=3600)
    rerank_top: int = Field(300, ge=0, le=100_000)
    experiment: str = ""

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: str) -> str:
        parse_keys(value)
        return value

    def keys(self) -> dict[str, str]:
        """The accepted API keys, ``{key: role}``; the demo keys when none are set and ``demo`` is on.

        Raises
        ------
        ValueError
            When there are no keys, or when a published demo key is set outside demo mode.
        """
        keys = parse_keys(self.api_keys)
        if not keys and self.demo:
            keys = parse_keys(DEMO_KEYS)
        if not keys:
            raise ValueError(
                "no API keys: set GIGMATCH_API_KEYS='key:backend,key2:operator' (or --demo for the demo keys)"
            )
        demo = parse_keys(DEMO_KEYS)
        if not self.demo and any(k in demo for k in keys):
            raise ValueError(
                "the published demo keys are refused outside demo mode; set your own GIGMATCH_API_KEYS"
            )
        return keys


def parse_keys(text: str) -> dict[str, str]:
    """Parse ``"key:role,key2:role2"`` into ``{key: role}`` (blank entries skipped; a key may hold ':').

    Raises
    ------
    ValueError
        When an entry is not ``key:role`` with a role in :data:`ROLES`, or a key is under 8 characters.
        The message shows at most the first 4 characters of the entry.
    """
    keys: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, role = item.rpartition(":")
        if not sep or not key or role not in ROLES:
            raise ValueError(f"GIGMATCH_API_KEYS entry {item[:4]}...: expected key:role with role in {ROLES}")
        if len(key) < 8:
            raise ValueError("GIGMATCH_API_KEYS: every key needs at least 8 characters")
        keys[key] = role
    return keys
