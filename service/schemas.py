"""Pydantic models: the single schema for request validation, responses and the OpenAPI document.

The entity bodies (:class:`WorkerIn`, :class:`JobIn`, :class:`EventIn`) are **generated from the data
contract** (:data:`gigmatch.core.contract.SCHEMAS`): every bound, default, enum, the time rule, the
token grammar of list cells and the rules across columns (:data:`~gigmatch.core.contract.TABLE_RULES`)
come from the one table that also validates files, so the API and the files cannot drift apart
(``tests/test_contract_properties.py`` proves that whatever a model accepts, the contract accepts).
Requests and responses around them are written here as schema families, FastAPI-template style.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    create_model,
    model_validator,
)

from gigmatch.core.contract import (
    EVENT_TYPES,
    MAX_CODE_LENGTH,
    MAX_ID_LENGTH,
    MAX_LIST_ITEMS,
    MISSING_MARKERS,
    SCHEMAS,
    TABLE_RULES,
    Column,
    ContractError,
    validate_cell,
)
from gigmatch.core.defaults import DEFAULT_MAX_KM
from gigmatch.core.times import TimeValueError, to_market_time
from matcher.objectives import DEFAULT_OBJECTIVE, OBJECTIVES

NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"  # as the contract: control characters are refused


def _present(value: str) -> str:
    """A blank or a missing-value marker is not a value (the contract reads both as missing)."""
    if value in MISSING_MARKERS:
        raise ValueError(f"{value!r} is blank or a missing-value marker ({', '.join(MISSING_MARKERS[1:])})")
    return value


_Text = StringConstraints(strip_whitespace=True, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL)
Id = Annotated[str, _Text, Field(min_length=1), AfterValidator(_present)]
Text = Annotated[str, _Text]
Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CODE_LENGTH, pattern=NO_CONTROL),
    AfterValidator(_present),
]


def _market_time(value: object) -> datetime | None:
    """The contract's one time rule (:func:`gigmatch.core.times.to_market_time`) for API fields."""
    try:
        return to_market_time(value)
    except TimeValueError as exc:
        raise ValueError(str(exc)) from None


def _required_market_time(value: object) -> datetime:
    out = _market_time(value)
    if out is None:
        raise ValueError("is required")
    return out


_TIME_SCHEMA = {"type": "string", "format": "date-time", "description": "ISO 8601; no offset = market time"}
MarketTime = Annotated[datetime, PlainValidator(_required_market_time), WithJsonSchema(_TIME_SCHEMA)]
OptionalMarketTime = Annotated[
    datetime | None,
    PlainValidator(_market_time),
    WithJsonSchema({"anyOf": [_TIME_SCHEMA, {"type": "null"}]}),
]


class Strict(BaseModel):
    """Request bodies refuse fields they do not know (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


# ---- entity bodies, generated from the data contract ------------------------------------------------


def _list_cell(table: str, column: str):
    """The contract's own parser checks each list cell (``code:years``, ``code@YYYY-MM-DD``, ...)."""

    def check(tokens: list[str] | None) -> list[str] | None:
        if tokens:
            try:
                validate_cell(table, column, tokens)
            except ContractError as exc:
                raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return tokens

    return check


def _hours_cell(table: str, column: str):
    """Weekly windows are checked and normalised by the contract (:mod:`gigmatch.core.hours`)."""

    def check(text: str) -> str:
        try:
            return validate_cell(table, column, text)
        except ContractError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    return check


def _annotation(table: str, col: Column) -> Any:
    """The pydantic type of one contract column (bounds, enum, time rule, token grammar)."""
    kind = col.kind
    if kind == "id" or (kind == "str" and col.required):
        return Id
    if kind == "str":
        return Text
    if kind == "hours":  # weekly windows: the contract's own parser checks them
        return Annotated[str, Field(max_length=MAX_ID_LENGTH), AfterValidator(_hours_cell(table, col.name))]
    if kind in ("float", "int"):
        bounds = {k: v for k, v in (("ge", col.lo), ("le", col.hi)) if v is not None}
        if kind == "float":
            return Annotated[float, Field(allow_inf_nan=False, **bounds)]
        return Annotated[int, Field(**{k: int(v) for k, v in bounds.items()})]
    if kind == "bool":
        return bool
    if kind == "datetime":
        return MarketTime if col.required else OptionalMarketTime
    if kind in ("list", "skills", "certs", "related"):
        return Annotated[
            list[Code], Field(max_length=MAX_LIST_ITEMS), AfterValidator(_list_cell(table, col.name))
        ]
    if kind == "event":
        return Literal[EVENT_TYPES]  # type: ignore[valid-type]
    raise AssertionError(kind)


def _description(col: Column) -> str:
    default = col.default
    shown = (
        ""
        if col.required
        or default is None
        or (isinstance(default, float) and math.isnan(default))
        or default == ""
        else f" (default {default})"
    )
    return col.doc + shown


def _check_rules(table: str):
    def rules(self):
        record = self.model_dump()
        for rule in TABLE_RULES.get(table, ()):
            if rule.violated_by(record):
                raise ValueError(f"{rule.column} {rule.message}")
        return self

    return model_validator(mode="after")(rules)


def entity_model(name: str, table: str, *, exclude: tuple[str, ...] = (), examples: list[dict] | None = None):
    """A request model for rows of ``table``, generated from :data:`~gigmatch.core.contract.SCHEMAS`.

    Optional columns are nullable with default None: left out, the contract's default applies (the
    description says which). ``exclude`` names columns the request supplies otherwise (the id in
    the path): they stay optional in the body, and :func:`contract_row` drops them.
    """
    fields: dict[str, Any] = {}
    for col in SCHEMAS[table]:
        if col.name in exclude:
            # the request names the entity otherwise (the path's id); a body carrying its own id, as
            # an exported row does, is accepted: contract_row drops it, PUT checks it (same_id)
            fields[col.name] = (
                Id | None,
                Field(
                    None,
                    description=f"optional; the {col.name} in the path (or, inline in a request, none) is "
                    "the one used: a PUT body's must equal the path's (422 otherwise), an inline one is ignored",
                ),
            )
            continue
        annotation = _annotation(table, col)
        if col.required:
            fields[col.name] = (annotation, Field(..., description=_description(col)))
        else:
            fields[col.name] = (annotation | None, Field(None, description=_description(col)))
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": examples or []})
    return create_model(
        name,
        __config__=config,
        __doc__=f"A ``{table}`` row, as the data contract defines it (README, data contract).",
        __validators__={"table_rules": _check_rules(table)},
        **fields,
    )


def contract_row(body: BaseModel, **ids: str) -> dict:
    """A validated body as a typed contract row (left-out optional columns omitted), plus ``ids``.

    An id the body carries itself is replaced by the one in ``ids`` (the path's, or ``"request"``
    for an inline entity); :func:`same_id` is what refuses a PUT body whose id differs.
    """
    return {**body.model_dump(exclude_none=True, exclude=set(ids)), **ids}


def same_id(body: BaseModel, column: str, path_id: str) -> None:
    """Refuse a body whose own ``column`` differs from the id in the path.

    Raises
    ------
    gigmatch.core.contract.ContractError
        ``"worker_id: 'w2' in the body differs from 'w1' in the path"``; the app answers 422.
    """
    own = getattr(body, column, None)
    if own is not None and own != path_id:
        raise ContractError(f"{column}: {own!r} in the body differs from {path_id!r} in the path")


WorkerIn = entity_model(
    "WorkerIn",
    "workers",
    exclude=("worker_id",),
    examples=[
        {
            "lat": 26.73,
            "lon": 117.47,
            "skills": ["welding:5", "moving"],
            "certificates": ["welding_cert@2027-06-30"],
            "preferred_trades": ["welding"],
            "rating_avg": 4.6,
            "rating_count": 12,
            "max_travel_km": 10,
        }
    ],
)
JobIn = entity_model(
    "JobIn",
    "jobs",
    exclude=("job_id",),
    examples=[
        {
            "trade": "installation",
            "lat": 26.72,
            "lon": 117.48,
            "headcount": 2,
            "daily_wage": 260,
            "start_time": "2026-12-01T08:00:00",
            "employer_id": "e00012",
        }
    ],
)
EventIn = entity_model(
    "EventIn",
    "events",
    examples=[{"ts": "2026-11-20T09:00:00", "job_id": "j000123", "worker_id": "w000042", "event": "applied"}],
)


# ---- requests and responses ----------------------------------------------------------------------


class RankRequest(Strict):
    """Body of ``POST /v1/rank``: the job to rank workers for, and where to look.

    Give exactly one of ``job_id`` (a stored job) or ``job`` (a job sent inline, not stored).
    ``candidate_ids`` (at most 10,000 stored worker ids) ranks only those workers, still within the
    radius, instead of every stored worker within it. ``max_km`` is the radius around the job site,
    km (0 < max_km <= 200; default the server's, 15 km unless configured). ``limit`` is the most
    candidates returned (1-500, default 20). Unknown fields are refused.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"job_id": "j000123", "limit": 10},
                {
                    "job": {
                        "trade": "welding",
                        "lat": 26.72,
                        "lon": 117.48,
                        "start_time": "2026-12-01T08:00:00",
                    },
                    "max_km": 10,
                },
            ]
        },
    )
    job: JobIn | None = None
    job_id: Id | None = None
    candidate_ids: list[Id] | None = Field(None, max_length=10_000)
    max_km: float | None = Field(None, gt=0, le=200, allow_inf_nan=False)
    limit: int = Field(20, ge=1, le=500)
    exposure_aware: bool = Field(
        False,
        description="rank by the calibrated P(completed) discounted by the offers each worker already "
        "holds (shown in the last 24 h); adds p_match and offers_held to each candidate",
    )

    @model_validator(mode="after")
    def _one_job(self):
        if (self.job is None) == (self.job_id is None):
            raise ValueError("give exactly one of 'job' or 'job_id'")
        return self


class Candidate(BaseModel):
    """One ranked worker: ``score`` (higher ranks first; the serving model's own scale, not a
    probability), ``distance_km`` (great-circle, job site to the worker's home, km) and ``reasons``
    (short English phrases behind the rank)."""

    worker_id: str
    score: float
    distance_km: float
    reasons: list[str]
    p_match: float | None = Field(
        None, description="exposure_aware only: P(completed) after the discount for offers held"
    )
    offers_held: int | None = Field(None, description="exposure_aware only: shows in the last 24 h")


class RankResponse(BaseModel):
    """Answer of ``POST /v1/rank``: the eligible workers, best first, at most ``limit`` of them.

    ``model_version`` is the model that scored them (``heuristic-v1`` before any model is trained).
    ``excluded`` counts candidates that may not take the job, by reason code (e.g.
    ``certificate_missing``, ``beyond_travel_limit``, ``unknown_worker``); ``message`` says why
    nobody is listed, when nobody is.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "20261123T021539-163729-s1",
                    "candidates": [
                        {
                            "worker_id": "w000042",
                            "score": 1.93,
                            "distance_km": 1.2,
                            "reasons": [
                                "does this trade (6 years)",
                                "1.2 km away",
                                "rated about 4.7 from 15 ratings",
                            ],
                        }
                    ],
                    "excluded": {"certificate_missing": 3, "beyond_travel_limit": 11},
                }
            ]
        }
    )
    model_version: str
    candidates: list[Candidate]
    excluded: dict[str, int]
    message: str | None = Field(None, description="why there is no candidate, when there is none")


class RecommendRequest(Strict):
    """Body of ``POST /v1/recommend``: the worker to recommend open jobs to.

    Give exactly one of ``worker_id`` (a stored worker) or ``worker`` (a worker sent inline, not
    stored). ``max_km`` is the radius around the worker's home, km (0 < max_km <= 200; default the
    worker's ``max_travel_km``). ``limit`` is the most jobs returned (1-500, default 20). Unknown
    fields are refused.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"worker_id": "w000042", "limit": 10}]}
    )
    worker_id: Id | None = None
    worker: WorkerIn | None = None
    max_km: float | None = Field(None, gt=0, le=200, allow_inf_nan=False)
    limit: int = Field(20, ge=1, le=500)

    @model_validator(mode="after")
    def _one_worker(self):
        if (self.worker is None) == (self.worker_id is None):
            raise ValueError("give exactly one of 'worker' or 'worker_id'")
        return self


class JobMatch(BaseModel):
    """One recommended job: its ``trade`` code, ``score`` (higher ranks first), ``distance_km``
    (great-circle, job site to the worker's home, km) and ``reasons`` (short English phrases)."""

    job_id: str
    trade: str
    score: float
    distance_km: float
    reasons: list[str]


class RecommendResponse(BaseModel):
    """Answer of ``POST /v1/recommend``: open jobs the worker may take, best first, at most ``limit``.

    ``excluded`` counts open jobs within the radius that the worker may not take, by reason code.
    When no job is listed, ``message`` says why and ``what_would_change`` lists what would qualify
    the worker (a certificate, a longer trip); otherwise it is empty.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "heuristic-v1",
                    "jobs": [],
                    "excluded": {"certificate_missing": 12},
                    "message": "no open job you qualify for within 10 km",
                    "what_would_change": [
                        "a welding_cert certificate would qualify you for 12 jobs, nearest 2.1 km"
                    ],
                }
            ]
        }
    )
    model_version: str
    jobs: list[JobMatch]
    excluded: dict[str, int]
    message: str | None = None
    what_would_change: list[str] = Field(default_factory=list)


class EventsRequest(Strict):
    """Body of ``POST /v1/events``: 1 to 10,000 outcome events, each a row of the ``events`` table.

    ``ts`` is ISO 8601 (no offset: market time); ``event_id`` is the idempotency key, by default
    ``job_id|worker_id|event|ts``; ``rating`` (1-5) is required for a ``rated`` event.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "ts": "2026-11-20T09:00:00",
                            "job_id": "j000123",
                            "worker_id": "w000042",
                            "event": "applied",
                            "event_id": "ev-1",
                        }
                    ]
                }
            ]
        },
    )
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class EventsResponse(BaseModel):
    """Answer of ``POST /v1/events``: ``accepted`` events newly stored, and ``duplicates`` skipped
    because their ``event_id`` was already stored or repeated in the batch."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 1, "duplicates": 0}]})
    accepted: int
    duplicates: int


class Stored(BaseModel):
    """Answer of a worker or job ``PUT``/``DELETE``: the ``id`` and ``status`` (``stored`` or
    ``deleted``), sent once the change is on disk."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "w000042", "status": "stored"}]})
    id: str
    status: Literal["stored", "deleted"]


class AssignRequest(Strict):
    """Body of ``POST /v1/assign``: the stored jobs to fill, and how.

    ``job_ids``: 1 to 20,000 stored job ids (repeats are ignored). ``max_km``: radius around each
    job site, km (0 < max_km <= 200, default 15). ``objective``: ``fill`` (most slots filled, then the
    best total score) or ``weight`` (best total score). ``worker_capacity``: jobs one worker may take
    in this batch (0-100, default 1). ``min_score``: pairs whose match weight (in [0, 1]) is below
    it are never assigned. Unknown fields are refused.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"job_ids": ["j000001", "j000002"], "max_km": 15}]}
    )
    job_ids: list[Id] = Field(min_length=1, max_length=20_000)
    max_km: float = Field(DEFAULT_MAX_KM, gt=0, le=200, allow_inf_nan=False)
    objective: Literal[tuple(OBJECTIVES)] = Field(DEFAULT_OBJECTIVE, description="see matcher/objectives.py")  # type: ignore[valid-type]
    worker_capacity: int = Field(1, ge=0, le=100)
    min_score: float | None = Field(None, allow_inf_nan=False)


class Assignment(BaseModel):
    """One filled slot: the worker proposed for the job, the pair's match weight ``score`` (in
    [0, 1]) and ``distance_km`` (great-circle, job site to the worker's home, km)."""

    job_id: str
    worker_id: str
    score: float
    distance_km: float


class UnfilledJob(BaseModel):
    """A job left with ``open_slots`` unfilled, with the first ``reason`` that applies (e.g.
    ``no_worker_within_radius``, ``certificate_nobody_nearby_holds``) and a sentence of ``detail``
    when no candidate was eligible."""

    job_id: str
    open_slots: int
    reason: str
    detail: str = ""


class AssignResponse(BaseModel):
    """Answer of ``POST /v1/assign``: the proposed assignment (nothing is stored).

    ``assignments`` has one entry per filled slot; ``unfilled_jobs`` one per job with open slots;
    ``summary`` the run's figures (slots, filled, fill rate, total score, distances in km, timings in
    seconds, reason counts, the parameters used).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assignments": [
                        {"job_id": "j000001", "worker_id": "w000042", "score": 0.81, "distance_km": 1.4}
                    ],
                    "unfilled_jobs": [
                        {"job_id": "j000002", "open_slots": 1, "reason": "certificate_nobody_nearby_holds"}
                    ],
                    "summary": {"slots": 2, "filled": 1},
                }
            ]
        }
    )
    assignments: list[Assignment]
    unfilled_jobs: list[UnfilledJob]
    summary: dict


class ModelsResponse(BaseModel):
    """Answer of ``GET /v1/models``: the ``serving`` model version, the ``registry`` path (null when
    none is configured), its ``versions``, and its ``current`` version (null when none)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serving": "20261123T021539-163729-s1",
                    "registry": "demo/registry",
                    "versions": ["20261123T021539-163729-s1"],
                    "current": "20261123T021539-163729-s1",
                }
            ]
        }
    )
    serving: str
    registry: str | None
    versions: list[str]
    current: str | None


class ReloadResponse(BaseModel):
    """Answer of ``POST /v1/models/reload``: the version ``serving`` now, and the ``previous`` one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"serving": "20261123T021539-163729-s1", "previous": "heuristic-v1"}]}
    )
    serving: str
    previous: str


class TradeOut(BaseModel):
    """One trade of the vocabulary: its ``code``, Chinese and English names, ``synonyms``, whether a
    skill is required (false: entry-level), the certificates every job of it needs, ``related``
    (``{trade code: credit in (0, 1]}``, skill credit from related trades) and
    ``typical_daily_wage`` (yuan; null when unknown)."""

    code: str
    name_zh: str
    name_en: str
    synonyms: list[str]
    skill_required: bool
    required_certificates: list[str]
    related: dict[str, float]
    typical_daily_wage: float | None


class CertificateOut(BaseModel):
    """One certificate of the vocabulary: its ``code``, Chinese and English names, and ``synonyms``."""

    code: str
    name_zh: str
    name_en: str
    synonyms: list[str]


class TaxonomyResponse(BaseModel):
    """The market's vocabulary: its own (seeded from its trades/certificates tables) or the built-in one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "built-in",
                    "fingerprint": "50b11c8ede88a799",
                    "trades": [
                        {
                            "code": "welding",
                            "name_zh": "焊工",
                            "name_en": "welder",
                            "synonyms": ["电焊工"],
                            "skill_required": True,
                            "required_certificates": ["welding_cert"],
                            "related": {"installation": 0.3},
                            "typical_daily_wage": 300,
                        }
                    ],
                    "certificates": [
                        {
                            "code": "welding_cert",
                            "name_zh": "焊工证",
                            "name_en": "welder licence",
                            "synonyms": [],
                        }
                    ],
                }
            ]
        }
    )
    source: Literal["built-in", "market"]
    fingerprint: str
    trades: list[TradeOut]
    certificates: list[CertificateOut]


class ErrorIssue(BaseModel):
    """One validation problem: ``loc``, the path to the field (e.g. ``["body", "job", "lat"]``), and
    ``msg``."""

    loc: list[str | int]
    msg: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: ``detail`` is one line naming the field and the problem."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"detail": "unknown job 'j999'"},
                {
                    "detail": "job.lat: Input should be less than or equal to 90",
                    "errors": [
                        {"loc": ["body", "job", "lat"], "msg": "Input should be less than or equal to 90"}
                    ],
                },
            ]
        }
    )
    detail: str
    errors: list[ErrorIssue] | None = None


ERROR_RESPONSES = {code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 503)}


# ---- POST /v1/slates (issue #14) ----


class SlatesRequest(Strict):
    """Body of ``POST /v1/slates``: which open jobs to plan slates for, and the caps.

    ``job_ids``: stored job ids (1-20,000; default every open job). ``slate_size``: workers shown per
    job (1-100, default 10). ``max_per_worker``: offers a worker may hold at once, counting their
    shows of the last ``window_hours`` (1-100, default 3; window 0-720 h, default 24). ``max_km``:
    radius around each job site, km (default as ``/v1/rank``). ``long_waiting_days`` (0-3650, default
    14) and ``long_waiting_share`` (0-1, default 0): at least that share of the plan's places go to
    workers with no hire in that many days (solved exactly as a side constraint).
    ``head_start_hours`` (0-336, default 0 = no tiers): an employer's own good workers (a completed
    job for that employer rated at least 4 stars) are planned first and released now; everyone else
    is released that many hours later. Unknown fields are refused.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"slate_size": 10, "max_per_worker": 3},
                {"job_ids": ["j000001", "j000002"], "long_waiting_share": 0.3, "head_start_hours": 4},
            ]
        },
    )
    job_ids: list[Id] | None = Field(None, min_length=1, max_length=20_000)
    slate_size: int = Field(10, ge=1, le=100)
    max_per_worker: int = Field(3, ge=1, le=100)
    window_hours: float = Field(24.0, ge=0, le=720, allow_inf_nan=False)
    max_km: float | None = Field(None, gt=0, le=200, allow_inf_nan=False)
    long_waiting_days: float = Field(14.0, ge=0, le=3650, allow_inf_nan=False)
    long_waiting_share: float = Field(0.0, ge=0, le=1, allow_inf_nan=False)
    head_start_hours: float = Field(0.0, ge=0, le=336, allow_inf_nan=False)


class SlateWorker(BaseModel):
    """One place on a slate: ``p_match`` (calibrated P(completed) after the discount for offers the
    worker holds), ``reasons``, ``tier`` (1: released now; 2: after the head start), ``release_at``
    (market time), ``distance_km`` and whether the worker is ``long_waiting``."""

    worker_id: str
    p_match: float
    reasons: list[str]
    tier: int
    release_at: str
    distance_km: float
    long_waiting: bool


class Slate(BaseModel):
    """One job's slate, tier 1 first, then by ``p_match``; ``message`` says why it is empty, when it is."""

    job_id: str
    workers: list[SlateWorker]
    message: str | None = None


class SlatesResponse(BaseModel):
    """Answer of ``POST /v1/slates`` (nothing is stored: report what was shown with ``POST /v1/events``).

    ``exposure``: figures of the whole plan (places, workers shown, candidates, share of candidates
    shown, most places per worker, exposure Gini over candidates, long-waiting share of places) and
    the same figures for relevance-only top-``slate_size`` lists over the same candidates
    (``relevance_only``). ``plan``: the optimisation (expected completed matches ``total_p``, proven
    ``bound`` and ``gap``, ``method``, the long-waiting target and places, solver calls).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "heuristic-v1",
                    "slates": [
                        {
                            "job_id": "j000001",
                            "workers": [
                                {
                                    "worker_id": "w000042",
                                    "p_match": 0.31,
                                    "reasons": ["does this trade (6 years)", "1.2 km away"],
                                    "tier": 1,
                                    "release_at": "2026-11-23T09:00:00",
                                    "distance_km": 1.2,
                                    "long_waiting": False,
                                }
                            ],
                            "message": None,
                        }
                    ],
                    "exposure": {"places": 1, "workers_shown": 1, "exposure_gini": 0.0},
                    "plan": {"total_p": 0.31, "bound": 0.31, "gap": 0.0, "method": "flow"},
                }
            ]
        }
    )
    model_version: str
    slates: list[Slate]
    exposure: dict
    plan: dict
