"""The FastAPI application: ``create_app(settings)`` wires state, middleware, error handlers, routers.

Routes live in ``service/routes/`` (one module per resource) and take what they need from
``service/deps.py``; nothing imports this module but the CLI that serves it.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gigmatch.core.contract import ContractError
from models.registry import RegistryError
from service.config import Settings
from service.middleware import LimitsAndMetrics
from service.routes import ROUTERS
from service.state import ServiceState
from service.store.repository import StoreUnavailable


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the store and model that ``settings`` name (environment ``GIGMATCH_*`` by default).

    The store is opened (and seeded when empty), the model loaded and the first snapshot built before
    this returns, so the first request is served at full speed.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.gigmatch.close()

    app = FastAPI(
        title="gigmatch",
        version="0.1.0",
        lifespan=lifespan,
        description="Ranked candidates for casual-labour jobs, feedback events, batch assignment.",
        generate_unique_id_function=lambda route: route.name,  # operation ids = route function names
        # FastAPI's own pages load their assets from a CDN: service/routes/docs.py serves /docs offline
        docs_url=None,
        redoc_url=None,
    )
    app.state.gigmatch = ServiceState(settings)
    # The startup heap (store, snapshot, model, pandas and pydantic internals) is long-lived: freezing
    # it keeps full collections from walking it again, which were the p99 tail under load (27 ms ->
    # 13 ms at 100 req/s). Objects created later are collected as usual.
    gc.collect()
    gc.freeze()

    # the routes by template, for requests that routing did not label (FastAPI's own /openapi.json,
    # and 413 answers sent before routing); the routers' own routes, as the app may wrap included ones
    routes = [r for r in app.router.routes if hasattr(r, "path")]
    routes += [r for router in ROUTERS for r in router.routes]
    app.add_middleware(LimitsAndMetrics, get_state=lambda: app.state.gigmatch, get_routes=lambda: routes)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        return JSONResponse(
            {
                "detail": f"{field}: {message}",
                "errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors[:20]],
            },
            422,
        )

    @app.exception_handler(ContractError)
    async def contract_error(request: Request, exc: ContractError):
        return JSONResponse({"detail": str(exc)}, 422)

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError):
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable):
        # the database is away: writes cannot be made durable, so refuse them (reads from the snapshot
        # go on being served); clients retry
        return JSONResponse({"detail": str(exc).splitlines()[0]}, 503, headers={"Retry-After": "2"})

    for router in ROUTERS:
        app.include_router(router)
    return app
