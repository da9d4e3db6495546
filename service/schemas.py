"""Pydantic models: the single schema for request validation, responses and the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from gigmatch.core.contract import MISSING_MARKERS
from gigmatch.core.times import TimeValueError, to_market_time

NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"  # as the contract: control characters are refused


def _present(value: str) -> str:
    """Stripped, as the contract reads it; a blank or a missing-value marker is not a value."""
    value = value.strip()
    if value in MISSING_MARKERS:
        raise ValueError(f"{value!r} is blank or a missing-value marker ({', '.join(MISSING_MARKERS[1:])})")
    return value


Id = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL), AfterValidator(_present)]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL), AfterValidator(_present)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 degrees")]
Codes = Annotated[list[Code], Field(max_length=100)]


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
    model_config = ConfigDict(extra="forbid")


class WorkerBase(Strict):
    lat: Lat
    lon: Lon
    skills: Codes = Field(default_factory=list, description="trade codes, each optionally `code:years`")
    certificates: Codes = Field(default_factory=list, description="codes, each optionally `code@YYYY-MM-DD`")
    preferred_trades: Codes = Field(default_factory=list)
    rating_avg: float | None = Field(None, ge=1, le=5, allow_inf_nan=False)
    rating_count: int = Field(0, ge=0, le=10_000_000)
    jobs_completed: int = Field(0, ge=0, le=10_000_000)
    no_shows: int = Field(0, ge=0, le=10_000_000)
    max_travel_km: float = Field(15.0, gt=0, le=20_000, allow_inf_nan=False)
    min_daily_wage: float | None = Field(None, ge=0, le=1e6, allow_inf_nan=False)
    registered_at: OptionalMarketTime = None
    available_from: OptionalMarketTime = None
    available_until: OptionalMarketTime = None


class WorkerIn(WorkerBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
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
            ]
        },
    )


class JobBase(Strict):
    trade: Code
    lat: Lat
    lon: Lon
    headcount: int = Field(1, ge=1, le=10_000)
    employer_id: Annotated[str, Field(max_length=200, pattern=NO_CONTROL)] = ""
    required_certificates: Codes = Field(default_factory=list)
    daily_wage: float | None = Field(None, ge=0, le=1e6, allow_inf_nan=False)
    start_time: OptionalMarketTime = None
    end_time: OptionalMarketTime = None
    posted_at: OptionalMarketTime = None
    risk_level: int = Field(1, ge=1, le=4)

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.start_time is not None and self.end_time is not None and self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        return self


class JobIn(JobBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "trade": "installation",
                    "lat": 26.72,
                    "lon": 117.48,
                    "headcount": 2,
                    "daily_wage": 260,
                    "start_time": "2026-12-01T08:00:00",
                    "employer_id": "e00012",
                }
            ]
        },
    )


class RankRequest(Strict):
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

    @model_validator(mode="after")
    def _one_job(self):
        if (self.job is None) == (self.job_id is None):
            raise ValueError("give exactly one of 'job' or 'job_id'")
        return self


class Candidate(BaseModel):
    worker_id: str
    score: float
    distance_km: float
    reasons: list[str]


class RankResponse(BaseModel):
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
                            "reasons": ["does this trade (6 years)", "1.2 km away", "rated 4.7 over 15 jobs"],
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
    job_id: str
    trade: str
    score: float
    distance_km: float
    reasons: list[str]


class RecommendResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "heuristic-v1",
                    "jobs": [],
                    "excluded": {"certificate_missing": 12},
                    "message": "no open job you qualify for within 10 km",
                    "what_would_change": [
                        "a welding_cert certificate would qualify you for 12 job(s), nearest 2.1 km"
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


class EventIn(Strict):
    ts: MarketTime
    job_id: Id
    worker_id: Id
    event: Literal["shown", "declined", "applied", "hired", "completed", "no_show", "rated"]
    rating: float | None = Field(None, ge=1, le=5, allow_inf_nan=False)
    event_id: Id | None = None

    @model_validator(mode="after")
    def _rating_for_rated(self):
        if self.event == "rated" and self.rating is None:
            raise ValueError("'rating' is required for a 'rated' event")
        return self


class EventsRequest(Strict):
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
    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 1, "duplicates": 0}]})
    accepted: int
    duplicates: int


class Stored(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "w000042", "status": "stored"}]})
    id: str
    status: Literal["stored", "deleted"]


class AssignRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"job_ids": ["j000001", "j000002"], "max_km": 15}]}
    )
    job_ids: list[Id] = Field(min_length=1, max_length=20_000)
    max_km: float = Field(15.0, gt=0, le=200, allow_inf_nan=False)
    objective: Literal["fill", "weight"] = "fill"
    worker_capacity: int = Field(1, ge=0, le=100)
    min_score: float | None = Field(None, allow_inf_nan=False)


class Assignment(BaseModel):
    job_id: str
    worker_id: str
    score: float
    distance_km: float


class UnfilledJob(BaseModel):
    job_id: str
    open_slots: int
    reason: str
    detail: str = ""


class AssignResponse(BaseModel):
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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"serving": "20261123T021539-163729-s1", "previous": "heuristic-v1"}]}
    )
    serving: str
    previous: str


class TradeOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    synonyms: list[str]
    skill_required: bool
    required_certificates: list[str]
    related: dict[str, float]
    typical_daily_wage: float | None


class CertificateOut(BaseModel):
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
