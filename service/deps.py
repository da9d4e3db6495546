"""Dependencies of the routes: the service state, API-key auth by role, bounded work slots.

As in FastAPI's full-stack template, routes declare what they need with ``Annotated`` aliases
(``StateDep``) and role checks (``dependencies=[BackendAuth]``); they never import the app. The
dependencies are ``async def`` because they never block: FastAPI runs a sync dependency in the
thread pool, one thread hop per dependency per request.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.state import ServiceState


async def get_state(request: Request) -> ServiceState:
    """The app's :class:`~service.state.ServiceState`."""
    return request.app.state.gigmatch


StateDep = Annotated[ServiceState, Depends(get_state)]


def require(role: str):
    """Dependency: a valid ``Authorization: Bearer <key>``; ``operator`` endpoints refuse backend keys.

    The token is compared with every configured key in constant time (``hmac.compare_digest``),
    whichever matches, so the time taken says nothing about which keys exist.
    """

    async def check(request: Request, state: StateDep) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = None
        for key, key_role in state.keys.items():  # compare against every key in constant time
            if hmac.compare_digest(token.strip().encode(), key.encode()):
                found = key_role
        if scheme.lower() != "bearer" or found is None:
            raise HTTPException(
                401,
                "missing or invalid API key (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role == "operator" and found != "operator":
            raise HTTPException(403, "this endpoint needs an operator key")
        return found

    return check


BackendAuth = Depends(require("backend"))
OperatorAuth = Depends(require("operator"))


@contextmanager
def work_slot(state: ServiceState) -> Iterator[None]:
    """Bounded CPU work: wait briefly for a slot, else 503 fast instead of queueing without bound."""
    if not state.work.acquire(timeout=state.settings.queue_timeout_s):
        state.rejected.labels("busy").inc()
        raise HTTPException(503, "server busy, retry shortly", headers={"Retry-After": "1"})
    try:
        yield
    finally:
        state.work.release()


def row_of(rows: dict, key: str, kind: str) -> int:
    """The snapshot row of a stored job or worker id; 404 naming it when unknown."""
    pos = rows.get(key)
    if pos is None:
        raise HTTPException(404, f"unknown {kind} {key!r}")
    return int(pos)
