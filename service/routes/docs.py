"""GET /docs: the interactive API documentation (Swagger UI), served whole from this server.

FastAPI's default ``/docs`` page loads Swagger UI's script and style sheet from a public CDN, so on a
closed network (county offices often run on one) it is a blank page. Here the page and its assets
come from the ``fastapi-offline`` package's copy of Swagger UI 5 (``swagger-ui-dist``), served under
``/docs/assets/``: the documented way of self-hosting FastAPI's docs, with a maintained copy of the
assets instead of files checked into this repository. Swagger UI's online spec validator is off,
so the page makes no request off the host. ReDoc (``/redoc``) is not served: its bundle fetches a
logo from its CDN, and one complete offline page beats two half-working ones.

Like ``/openapi.json``, the page needs no API key: it holds no data, and every call made from it
still needs one (the "Authorize" button takes the bearer key).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = files("fastapi_offline") / "static"
# the files the page loads; anything else under /docs/assets/ is 404
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page over ``/openapi.json``, with its script, styles and icon from this host."""
    root = request.scope.get("root_path", "")
    app = request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - API documentation",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/assets/favicon.png",
        # validatorUrl None: Swagger UI would otherwise ask an online validator for a badge
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (FastAPI's own)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/docs/assets/{name}")
def swagger_ui_asset(name: str) -> FileResponse:
    """One of the page's files (:data:`ASSET_TYPES`), cached by the browser for a day."""
    if name not in ASSET_TYPES:
        raise HTTPException(404, f"no documentation asset {name!r}")
    return FileResponse(
        str(ASSETS / name), media_type=ASSET_TYPES[name], headers={"Cache-Control": "public, max-age=86400"}
    )
