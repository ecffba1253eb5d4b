"""The route class of the page routers: failures become pages, not problem+json.

The API answers errors as RFC 9457 JSON for programs; a person in a browser should see
a page in their language instead. Exception handlers are app-wide, so the page routers
use :class:`PageRoute`, which catches what a page handler or its dependencies raise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from fleet_api.errors import FleetError, Forbidden, NotFound
from fleet_api.web.page import (
    FormRejected,
    LoginRequired,
    Page,
    PageForbidden,
    anonymous_page,
    login_url,
)

log = logging.getLogger(__name__)


class PageRoute(APIRoute):
    """An APIRoute whose errors are rendered as HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so page errors become pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = login_url(request)
                if request.headers.get("hx-request") == "true":
                    return Response(status_code=204, headers={"HX-Redirect": target})
                return Response(status_code=303, headers={"Location": target})
            except (PageForbidden, Forbidden):
                return _error(request, 403, "forbidden")
            except FormRejected:
                return _error(request, 403, "form")
            except (NotFound, RequestValidationError):
                # A bad id in the URL is, to a person, a page that does not exist.
                return _error(request, 404, "not_found")
            except FleetError as exc:
                log.warning("page %s failed: %s", request.url.path, exc)
                return _error(request, exc.status_code, "failed")

        return page_handler


def _error(request: Request, status: int, reason: str) -> Response:
    page: Page = getattr(request.state, "page", None) or anonymous_page(request)
    return page.render("error.html", status_code=status, status=status, reason=reason)
