"""Staff web pages: server-rendered (Jinja2, htmx, Chart.js), in English and Latvian.

:func:`install` adds them to the API app: the pages under ``/ui``, the static files
under ``/static``, and ``/docs`` from vendored Swagger UI. See ``docs/web.md``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from fleet_api.web import (
    account,
    dashboard,
    docs,
    exhibit_config,
    exhibits,
    places,
    readiness,
    reports,
    schools,
    unplaced_forms,
    visit_forms,
    visits,
)
from fleet_api.web.rendering import STATIC
from fleet_api.web.static_files import VersionedStatic


def install(app: FastAPI) -> None:
    """Mount the static files, compress responses, include the page and docs routers."""
    app.mount("/static", VersionedStatic(directory=STATIC), name="static")
    # Outermost: pages, static files and API answers of 1 KiB or more leave compressed
    # (pages mask their CSRF token per response, so compression reveals no secret).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.include_router(docs.router)
    app.include_router(account.root)
    # visit_forms before visits: /visits/new must not be read as /visits/{visit_id}.
    for module in (account, dashboard, visit_forms, visits, schools, places, exhibits, reports):
        app.include_router(module.router)
    app.include_router(unplaced_forms.router)
    app.include_router(readiness.router)
    app.include_router(exhibit_config.router)
    app.include_router(account.fallback)  # last: whatever no page route matched
