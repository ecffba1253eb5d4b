"""Staff web pages: server-rendered (Jinja2, htmx, Chart.js), in English and Latvian.

:func:`install` adds them to the API app: the pages under ``/ui``, the static files
under ``/static``, and ``/docs`` from vendored Swagger UI. See ``docs/web.md``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fleet_api.web import (
    account,
    dashboard,
    docs,
    exhibits,
    readiness,
    reports,
    schools,
    visit_forms,
    visits,
)
from fleet_api.web.rendering import STATIC


def install(app: FastAPI) -> None:
    """Mount the static files and include the page and docs routers."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(docs.router)
    app.include_router(account.root)
    # visit_forms before visits: /visits/new must not be read as /visits/{visit_id}.
    for module in (account, dashboard, visit_forms, visits, schools, exhibits, reports):
        app.include_router(module.router)
    app.include_router(readiness.router)
    app.include_router(account.fallback)  # last: whatever no page route matched
