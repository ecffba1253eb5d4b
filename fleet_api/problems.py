"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response has ``type``, ``title``, ``status``, ``detail`` (one precise
sentence) and ``code`` (stable, machine-readable); validation errors add ``errors``.
That holds for our own errors, FastAPI's (401/403/404/405/422) and the unexpected:
:class:`RequestErrors` turns any exception nothing else handled into a 500 problem that
names only a request id, and logs the traceback under that id. Every response carries
the request id in ``X-Request-ID`` (the caller's own, if it sent a sane one).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_api.errors import FleetError

MEDIA_TYPE = "application/problem+json"
REQUEST_ID = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None
    request_id: str | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route may return."""
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": _title(status)}
        for status in statuses
    }


class ProblemResponse(JSONResponse):
    """JSON that can echo a lone surrogate of the request (JSON can carry ``\\ud800``, UTF-8
    cannot): it goes back as the same escape instead of failing the error itself."""

    def render(self, content: Any) -> bytes:
        """UTF-8 JSON, lone surrogates escaped."""
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def problem(
    status: int, detail: str, code: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(title=_title(status), status=status, detail=detail, code=code, **extra)
    return ProblemResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    """Render every error as a problem detail; see the module docstring."""

    async def fleet_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FleetError)
        return problem(exc.status_code, str(exc), exc.code, headers=getattr(exc, "headers", None))

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = jsonable_encoder(exc.errors())
        return problem(422, _summary(errors), "validation_error", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers 422 to a body that is not JSON but 400 to one that is not
            # UTF-8: both are a body that is not JSON, so both are the same 422.
            errors = [{"type": "json_invalid", "loc": ["body"], "msg": "not UTF-8 JSON"}]
            return problem(422, _summary(errors), "validation_error", errors=errors)
        code = _title(exc.status_code).lower().replace(" ", "_")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of one route only; Allow must list them all.
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return problem(exc.status_code, str(exc.detail), code, headers=headers)

    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        # The database went away mid-request: a 503 to retry, without its internals.
        log.warning("database unavailable (request id %s): %s", _request_id(request), exc)
        return problem(
            503, "the database is unavailable; try again shortly", "database_unavailable"
        )

    app.add_exception_handler(FleetError, fleet_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(OperationalError, database_away)
    app.add_middleware(RequestErrors)


class RequestErrors:
    """ASGI middleware: a request id for every request, unhandled exceptions as a 500 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; answer 500 (logged under the request id) if it raises."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unexpected error answering %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if started:  # too late for a problem response: the server drops the connection
                raise
            response = problem(
                500,
                f"an unexpected error occurred; it is logged under request id {request_id}",
                "internal_error",
                request_id=request_id,
            )
            await response(scope, receive, send_with_id)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the OpenAPI document gives the path template matching ``path``."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def _summary(errors: list[dict[str, Any]]) -> str:
    """The first validation error as one sentence, e.g. ``body.ends_at: ...``."""
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
