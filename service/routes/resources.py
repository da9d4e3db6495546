"""PUT/DELETE /v1/workers/{id} and /v1/jobs/{id}: keep the store current."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from gigmatch.core.times import market_now
from service.deps import BackendAuth, StateDep
from service.schemas import ERROR_RESPONSES, JobIn, Stored, WorkerIn, contract_row, same_id

router = APIRouter(
    prefix="/v1",
    tags=["store"],
    dependencies=[BackendAuth],
    responses=ERROR_RESPONSES,
)
PathId = Annotated[str, Path(min_length=1, max_length=200)]

# OpenAPI links (operation ids are the route function names): what a client, and the stateful fuzzer,
# can do with a stored worker or job next
WORKER_LINKS = {
    "RecommendJobs": {"operationId": "recommend", "requestBody": {"worker_id": "$request.path.worker_id"}},
    "DeleteWorker": {"operationId": "delete_worker", "parameters": {"worker_id": "$request.path.worker_id"}},
    "PutWorkerAgain": {"operationId": "put_worker", "parameters": {"worker_id": "$request.path.worker_id"}},
}
JOB_LINKS = {
    "RankWorkers": {"operationId": "rank", "requestBody": {"job_id": "$request.path.job_id"}},
    "AssignJob": {"operationId": "assign", "requestBody": {"job_ids": ["$request.path.job_id"]}},
    "DeleteJob": {"operationId": "delete_job", "parameters": {"job_id": "$request.path.job_id"}},
}


@router.put(
    "/workers/{worker_id}",
    response_model=Stored,
    summary="Create or replace a worker",
    responses={200: {"links": WORKER_LINKS}},
)
def put_worker(worker_id: PathId, body: WorkerIn, state: StateDep) -> dict:
    """Create the worker, or replace the stored one with this id as a whole.

    Fields left out take the data contract's defaults, not the stored values. Trade and certificate
    names are read through the market's vocabulary. The worker is on disk, and ranked by the next
    request, when the response is sent. The body may carry ``worker_id`` (as an exported row does):
    it must then equal the path's. 422 for an invalid body.
    """
    same_id(body, "worker_id", worker_id)
    state.store.upsert_worker(contract_row(body, worker_id=worker_id))
    state.loop.cases.on_put("worker", worker_id, market_now())  # opens or re-opens the worker's case
    return {"id": worker_id, "status": "stored"}


@router.delete("/workers/{worker_id}", response_model=Stored, summary="Delete a worker")
def delete_worker(worker_id: PathId, state: StateDep) -> dict:
    """Delete a stored worker; it is no longer ranked or assigned. 404 for an unknown id."""
    if not state.store.delete_worker(worker_id):
        raise HTTPException(404, f"unknown worker {worker_id!r}")
    state.loop.cases.close("worker", worker_id, "deleted", market_now())
    return {"id": worker_id, "status": "deleted"}


@router.put(
    "/jobs/{job_id}",
    response_model=Stored,
    summary="Create or replace a job",
    responses={200: {"links": JOB_LINKS}},
)
def put_job(job_id: PathId, body: JobIn, state: StateDep) -> dict:
    """Create the job, or replace the stored one with this id as a whole.

    Fields left out take the data contract's defaults, not the stored values, except ``posted_at``:
    left out, it is the time the job was first stored. Trade and certificate names are read through
    the market's vocabulary. The job is on disk, and recommended by the next request, when the
    response is sent. The body may carry ``job_id`` (as an exported row does): it must then equal the
    path's. 422 for an invalid body.
    """
    same_id(body, "job_id", job_id)
    state.store.upsert_job(contract_row(body, job_id=job_id))
    state.loop.cases.on_put("job", job_id, market_now())  # opens, re-opens or marks the job's case changed
    return {"id": job_id, "status": "stored"}


@router.delete("/jobs/{job_id}", response_model=Stored, summary="Delete a job (never recommended again)")
def delete_job(job_id: PathId, state: StateDep) -> dict:
    """Delete a stored job; it is no longer recommended, ranked or assigned. 404 for an unknown id."""
    if not state.store.delete_job(job_id):
        raise HTTPException(404, f"unknown job {job_id!r}")
    state.loop.cases.close("job", job_id, "deleted", market_now())
    return {"id": job_id, "status": "deleted"}
