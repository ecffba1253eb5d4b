"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response has ``type``, ``title``, ``status``, ``detail`` (one precise
sentence) and ``code`` (stable, machine-readable); validation errors add ``errors``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from fleet_api.errors import FleetError

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route may return."""
    return {
        status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": _title(status)}
        for status in statuses
    }


def problem(status: int, detail: str, code: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = Problem(title=_title(status), status=status, detail=detail, code=code, **extra)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE
    )


def install(app: FastAPI) -> None:
    """Render FleetError, validation errors and HTTP errors as problem details."""

    async def fleet_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FleetError)
        return problem(exc.status_code, str(exc), exc.code)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = jsonable_encoder(exc.errors())
        return problem(422, _summary(errors), "validation_error", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _title(exc.status_code).lower().replace(" ", "_")
        return problem(exc.status_code, str(exc.detail), code)

    app.add_exception_handler(FleetError, fleet_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


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
