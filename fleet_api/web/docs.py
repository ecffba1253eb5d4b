"""``/docs``: Swagger UI served from the package's own copy, so it works with no internet.

FastAPI's default page loads Swagger UI from a CDN, which a school depot or an offline
machine cannot reach. ``create_app`` turns the default off (``docs_url=None``,
``redoc_url=None``) and these routes serve the same page with the vendored
swagger-ui-dist files under ``/static/vendor``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from fleet_api.web.static_files import static_url

SWAGGER_UI = "vendor/swagger-ui-5.35.0"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API documentation (no token needed to read it)."""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=root + static_url(f"{SWAGGER_UI}/swagger-ui-bundle.js"),
        swagger_css_url=root + static_url(f"{SWAGGER_UI}/swagger-ui.css"),
        swagger_favicon_url=root + static_url(f"{SWAGGER_UI}/favicon-32x32.png"),
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        # Swagger UI would fetch a validity badge from validator.swagger.io: never phone out.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    """The page Swagger UI's OAuth2 flow returns to."""
    return get_swagger_ui_oauth2_redirect_html()
