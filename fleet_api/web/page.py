"""One page request: who asks (the token's caller), in which language, and how to answer.

Page routes take a :class:`Page` through the dependencies ``AnonymousPage`` (the login
page), ``ViewerPage`` (any valid token: every role reads), ``StaffPage`` and
``TechnicianPage`` (the roles the API asks for the same writes), and read a POSTed
form through ``PostedForm``, which checks the CSRF token first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fleet_api.auth import Caller, Role
from fleet_api.deps import SessionDep
from fleet_api.errors import UnknownToken
from fleet_api.store.audit import Actor
from fleet_api.store.tokens import get_token
from fleet_api.web.i18n import Formats, pick_language, translations
from fleet_api.web.rendering import environment, secure_headers
from fleet_api.web.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANGUAGE_COOKIE,
    WebSession,
    app_settings,
    csrf_matches,
    masked_csrf,
    read_session,
    same_site_request,
    store_language,
)

PREFIX = "/ui"
"""Where the pages live: the API owns ``/visits`` and the like."""


class LoginRequired(Exception):
    """No valid session: the person must log in (again)."""


class PageForbidden(Exception):
    """The token's role may not do this."""

    def __init__(self, needed: Role) -> None:
        super().__init__(needed.value)
        self.needed = needed


class FormRejected(Exception):
    """A POST without the session's CSRF token, or from another site."""


@dataclass
class Page:
    """Everything a page handler needs to answer one request."""

    request: Request
    language: str
    fmt: Formats
    caller: Caller | None = None
    session: WebSession | None = None
    language_chosen: bool = False
    """``?lang=`` chose the language: remember it in a cookie."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` translated, with ``%(name)s`` placeholders filled from ``values``."""
        text = translations(self.language).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The singular or plural form for ``n``, translated and filled."""
        text = translations(self.language).ngettext(singular, plural, n)
        return text % {"num": self.fmt.number(n), **values}

    @property
    def report_zone(self) -> ZoneInfo:
        """The centre's time zone, which reports use (``FLEET_TIME_ZONE``)."""
        return app_settings(self.request.app).zone

    @property
    def actor(self) -> Actor:
        """The logged-in person as the author of a change made on this page."""
        if self.caller is None:
            raise LoginRequired
        return Actor.of(self.caller, via="page")

    def may(self, role: Role | str) -> bool:
        """Whether the logged-in token's role allows ``role`` (templates pass its name)."""
        return self.caller is not None and self.caller.may(Role(role))

    @property
    def csrf_token(self) -> str:
        """The session's CSRF token for a form or ``hx-headers``, masked anew each time."""
        return masked_csrf(self.session) if self.session is not None else ""

    @property
    def is_htmx(self) -> bool:
        """Whether htmx sent the request (it wants a fragment, not a page)."""
        return self.request.headers.get("hx-request") == "true"

    def with_language(self, language: str) -> str:
        """This page's URL in ``language`` (the switcher's links)."""
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        return f"{self.request.url.path}?{urlencode([*query, ('lang', language)])}"

    def url(self, path: str = "/") -> str:
        """A page URL: ``url("/visits")`` -> ``/ui/visits``."""
        return PREFIX + ("" if path == "/" else path)

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render ``template`` in the page's language."""
        html = environment(self.language).get_template(template).render(page=self, **context)
        response = HTMLResponse(html, status_code=status_code, headers=secure_headers())
        if self.language_chosen:
            store_language(self.request, response, self.language)
        return response

    def redirect(self, path: str) -> Response:
        """After a POST: see the result at ``path`` (htmx follows ``HX-Redirect``)."""
        if self.is_htmx:
            return Response(status_code=204, headers={"HX-Redirect": path})
        return RedirectResponse(path, status_code=303)


def _language(request: Request) -> tuple[str, bool]:
    query = request.query_params.get("lang")
    language = pick_language(
        query, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    return language, query == language


def anonymous_page(request: Request) -> Page:
    """A page anybody may see (the login page, errors)."""
    language, chosen = _language(request)
    zone = app_settings(request.app).page_zone
    page = Page(request, language, Formats(language, zone), language_chosen=chosen)
    request.state.page = page
    return page


def viewer_page(request: Request, session: SessionDep) -> Page:
    """A page for a logged-in person whose token is still valid (any role)."""
    page = anonymous_page(request)
    web_session = read_session(request)
    if web_session is None:
        raise LoginRequired
    try:
        token = get_token(session, token_id=web_session.token_id)
    except UnknownToken:
        raise LoginRequired from None
    if token.revoked_at is not None:  # revoked since the login
        raise LoginRequired
    page.caller = Caller(token_id=token.id, name=token.name, role=token.role)
    page.session = web_session
    return page


ViewerPage = Annotated[Page, Depends(viewer_page)]
AnonymousPage = Annotated[Page, Depends(anonymous_page)]


def staff_page(page: ViewerPage) -> Page:
    """A page that changes schools or visits (staff or admin)."""
    if not page.may(Role.STAFF):
        raise PageForbidden(Role.STAFF)
    return page


def technician_page(page: ViewerPage) -> Page:
    """A page that sends commands to exhibits (technician or admin)."""
    if not page.may(Role.TECHNICIAN):
        raise PageForbidden(Role.TECHNICIAN)
    return page


StaffPage = Annotated[Page, Depends(staff_page)]
TechnicianPage = Annotated[Page, Depends(technician_page)]


async def posted_form(request: Request, page: ViewerPage) -> FormData:
    """The POSTed form of a logged-in person, once its CSRF token has been checked."""
    form = await request.form()
    presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if (
        page.session is None
        or not same_site_request(request)
        or not csrf_matches(page.session, presented if isinstance(presented, str) else None)
    ):
        raise FormRejected
    return form


async def login_form(request: Request) -> FormData:
    """The POSTed login form, refused when it comes from another site."""
    if not same_site_request(request):
        raise FormRejected
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]
LoginForm = Annotated[FormData, Depends(login_form)]


def login_url(request: Request) -> str:
    """The login page, returning to the page asked for afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PREFIX}/login?next={quote(target, safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after login: only a page of ours, never another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    if target == PREFIX:
        return target
    return PREFIX + "/"
