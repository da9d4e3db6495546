"""GET /v1/models and POST /v1/models/reload (operator): hot reload of the registry's current model."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from models.registry import Registry, RegistryError
from models.scorer import load_scorer
from service.deps import BackendAuth, OperatorAuth, StateDep
from service.schemas import ERROR_RESPONSES, ModelsResponse, ReloadResponse

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERROR_RESPONSES)


@router.get(
    "", response_model=ModelsResponse, dependencies=[BackendAuth], summary="Serving model and registry"
)
def list_models(state: StateDep) -> dict:
    """The version being served, and the configured model registry's versions and current pointer.

    ``registry`` is null when the server was started without a model (it serves the heuristic
    scorer); ``current`` is null when the path is not a registry or nothing has been promoted yet.
    """
    path = state.settings.model
    reg = Registry(path) if path is not None else None
    return {
        "serving": state.scorer.version,
        "registry": str(path) if path else None,
        "versions": reg.versions() if reg else [],
        "current": reg.current() if reg and reg.is_registry else None,
    }


@router.post(
    "/reload",
    response_model=ReloadResponse,
    dependencies=[OperatorAuth],
    summary="Load the registry's current model; a broken one is refused and the old keeps serving",
)
def reload_model(state: StateDep) -> dict:
    """Load the configured registry's current model and serve it from now on, without downtime.

    The new model is loaded and checked completely before it replaces the old one; requests in
    flight finish with the old one. Use it after promoting or rolling back a version.

    Needs an operator key (403 for a backend key). 409 when the model cannot be loaded (broken
    artifact, feature schema of another gigmatch version, not a registry): the old model keeps serving
    and the message names it.
    """
    try:
        scorer = load_scorer(state.settings.model)  # built fully before the swap: requests never wait
    except RegistryError as exc:
        raise HTTPException(409, f"reload refused, still serving {state.scorer.version}: {exc}") from None
    previous = state.swap_model(scorer)
    return {"serving": scorer.version, "previous": previous}
