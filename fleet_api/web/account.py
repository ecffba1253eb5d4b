"""Logging in with an API token, logging out, and the way in from ``/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from fleet_api.auth import plausible
from fleet_api.deps import SessionDep
from fleet_api.store.tokens import find_caller
from fleet_api.web.page import PREFIX, AnonymousPage, LoginForm, PostedForm, ViewerPage, safe_next
from fleet_api.web.route import PageRoute
from fleet_api.web.session import end_session, new_session, store_session

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)
root = APIRouter(include_in_schema=False)


@root.get("/")
def home() -> Response:
    """The pages start at the dashboard."""
    return RedirectResponse(PREFIX + "/", status_code=307)


@router.get("/login")
def login_page(
    page: AnonymousPage, target: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """The login form: one field for the API token."""
    return page.render("login.html", next=safe_next(target), error=None)


@router.post("/login")
def log_in(page: AnonymousPage, form: LoginForm, session: SessionDep) -> Response:
    """Check the token as the API would, then start a session for it."""
    token = str(form.get("token", "")).strip()
    target = safe_next(str(form.get("next", "")))
    found = find_caller(session, token=token) if plausible(token) else None
    if found is None or found[1] is not None:
        error = "revoked" if found is not None else ("empty" if not token else "unknown")
        return page.render("login.html", status_code=401, next=target, error=error)
    response = RedirectResponse(target, status_code=303)
    store_session(page.request, response, new_session(found[0].token_id))
    return response


@router.post("/logout")
def log_out(page: ViewerPage, form: PostedForm, request: Request) -> Response:
    """End the session (the token itself stays valid: revoke it in the API for that)."""
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    end_session(request, response)
    return response


fallback = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


@fallback.get("/{anything:path}")
def not_found(page: AnonymousPage, anything: str) -> Response:
    """Any other address under the pages: a page saying there is nothing here."""
    return page.render("error.html", status_code=404, status=404, reason="not_found")
