"""The API's documentation, served by the server itself: this is an on-prem product, often offline.

- `/docs` (Swagger UI) and `/redoc` load their scripts and styles from `/docs/static/`, the files
  the `fastapi-offline` package ships, never from a CDN (FastAPI's defaults do: a blank page offline).
- `/openapi.yaml` is the repository's `openapi.yaml`, byte for byte (the same text
  `scripts/export_openapi.py` writes; a test checks both).
- `/` is the studio's (server/routes/studio.py), which links here.

None of them is in the OpenAPI document itself, as FastAPI's own `/openapi.json` is not.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from server.errors import ApiError, ErrorCode
from server.openapi_doc import openapi_yaml

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
STATIC_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
# An empty icon: browsers ask for one, and FastAPI's default favicon is a CDN link.
FAVICON = "data:,"
TITLE = "NemoVideo-compatible backend"


def _root(request: Request) -> str:
    """The path prefix the request came through (server/prefix.py), so links work behind a proxy."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE}: API",
        swagger_js_url=f"{root}/docs/static/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/static/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE}: API",
        redoc_js_url=f"{root}/docs/static/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


@router.get("/docs/static/{name}")
def docs_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"no documentation file {name!r}")
    return FileResponse(
        STATIC_DIR / name,
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/openapi.yaml")
def openapi_document(request: Request) -> Response:
    return Response(openapi_yaml(request.app.openapi()), media_type="application/yaml")
