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
    store : the store: a SQLite file path or ``postgresql://user:pass@host:port/db`` (issue #16); when
        unset, ``db`` (the older name, kept as an alias).
    follow_s : longest wait before a replica applies another replica's writes (the database's
        notification usually wakes it sooner; SQLite is polled at this interval).
    model_poll_s : how often each replica reads the registry's ``current`` pointer and loads a newly
        promoted model (0 = never; ``POST /v1/models/reload`` still works).
    answer_loop : run the background answer loop in this process (replicas share it through a lease).
    answer_sla_s : every open case gets an answer within this many seconds of opening (3600).
    answer_tick_s : seconds between the answer loop's passes (1).
    answer_sweep_s : seconds between full re-checks of every open case after events (60).
    answer_process : compute the answers in a child process at a lower CPU priority (on by default;
        ``service/loop/process.py`` says why); false = a thread of this process.
    answer_cpu_share : at most this share of wall time spent computing answers (0.25), so that the
        loop never takes the cores from /v1/rank.
    followup_days : an open worker case answered this long ago, with no applied/hired since, is due
        a follow-up call (7).
    webhook_url, webhook_secret : POST every answer to this http(s) URL, signed with HMAC-SHA256
        under the secret (at least 16 characters); empty URL = no webhook.
    webhook_backoff_s : first retry delay after a failed delivery (doubles up to 60 s).
    dispatch_window_s : real-time dispatch (issue #15): every this many seconds, the jobs put since
        the last window are offered to free workers, solved exactly (0 = off, the default).
    dispatch_offer_ttl_s : an unanswered offer lapses after this many seconds (300) and its slot goes
        to the next best worker.
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
    store: str | None = None
    follow_s: float = Field(0.5, gt=0, le=60)
    model_poll_s: float = Field(5.0, ge=0, le=3600)

    # the answer loop (issue #13; README "Every request gets an answer")
    answer_loop: bool = True
    answer_process: bool = True
    answer_sla_s: float = Field(3600.0, gt=0)
    answer_tick_s: float = Field(1.0, gt=0, le=3600)
    answer_sweep_s: float = Field(60.0, ge=0)
    answer_cpu_share: float = Field(0.25, gt=0, le=1)
    followup_days: float = Field(7.0, gt=0)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_backoff_s: float = Field(1.0, gt=0, le=60)

    # real-time dispatch (issue #15; README "Shifts, workers' hours and real-time dispatch")
    dispatch_window_s: float = Field(0.0, ge=0, le=3600)
    dispatch_offer_ttl_s: float = Field(300.0, gt=0, le=7 * 86_400)

    @field_validator("store")
    @classmethod
    def _store_form(cls, value: str | None) -> str | None:
        if value is not None and "://" in value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                f"GIGMATCH_STORE {value.split('://', 1)[0]}://...: expected a SQLite file path or a "
                "postgresql://user:pass@host:port/dbname URL"
            )
        return value or None

    def store_url(self) -> str:
        """The store to open: ``store`` when set, else the SQLite file ``db``."""
        return self.store if self.store else str(self.db)

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

    def webhook(self) -> tuple[str, str]:
        """``(url, secret)`` of the webhook, ``("", "")`` when none is configured.

        Raises
        ------
        ValueError
            One line naming the setting: a URL that is not ``http(s)://host...``, a URL without a
            secret, a secret under 16 characters, or a secret without a URL.
        """
        from urllib.parse import urlsplit

        url, secret = self.webhook_url.strip(), self.webhook_secret
        if not url:
            if secret:
                raise ValueError("GIGMATCH_WEBHOOK_SECRET is set but GIGMATCH_WEBHOOK_URL is empty")
            return "", ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"GIGMATCH_WEBHOOK_URL {url[:40]!r}: expected http(s)://host[:port]/path")
        if not secret:
            raise ValueError(
                "GIGMATCH_WEBHOOK_URL is set but GIGMATCH_WEBHOOK_SECRET is empty: answers are signed"
            )
        if len(secret) < 16:
            raise ValueError("GIGMATCH_WEBHOOK_SECRET: needs at least 16 characters")
        return url, secret


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


def settings_error(exc: Exception) -> str:
    """One line naming the environment variable for a settings error (pydantic's first error), e.g.
    ``GIGMATCH_DISPATCH_WINDOW_S: Input should be greater than or equal to 0``; other errors: their
    first line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = (exc.errors() or [{}])[0]
        loc = first.get("loc") or ()
        if loc:
            message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            field = str(loc[0]).upper()
            return message if message.startswith("GIGMATCH_") else f"GIGMATCH_{field}: {message}"
    return str(exc).splitlines()[0]
