"""Login sessions of the staff pages: a signed, HttpOnly, SameSite=Lax cookie.

The login form checks the API token exactly as the API does; the cookie then carries
only the token's id (never the secret itself) and a random CSRF token, signed
(itsdangerous, HMAC over a key derived from ``FLEET_SESSION_SECRET``) and dated, so it
cannot be forged or kept past :data:`MAX_AGE`. Every page request reads the token's row
again, so its role applies to the pages and revoking it in the API ends its sessions at
once; a stolen cookie is worth at most one working day, not the token.

Forms that change anything carry the CSRF token (a hidden field, or the
``X-CSRF-Token`` header that htmx sends); a cross-site request can neither read it nor,
with SameSite=Lax, send the cookie along with a POST. POSTs also fail when the browser
says they come from another site (``Sec-Fetch-Site``/``Origin``), which covers the login
form too, before any session exists.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from fleet_api.settings import Settings, get_settings

log = logging.getLogger(__name__)

COOKIE = "fleet_session"
LANGUAGE_COOKIE = "fleet_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_AGE = 12 * 3600
"""Seconds a login lasts: a working day."""
_SALT = "fleet-web-session"


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the session cookie holds."""

    token_id: int
    csrf: str


class SessionCodec:
    """Signs and checks session cookies with one secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)

    def dump(self, session: WebSession) -> str:
        """The cookie value for ``session``."""
        return self._serializer.dumps({"t": session.token_id, "c": session.csrf})

    def load(self, value: str | None) -> WebSession | None:
        """The session in a cookie value; None if absent, forged, malformed or expired."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=MAX_AGE)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict):
            return None
        token_id, csrf = data.get("t"), data.get("c")
        if type(token_id) is not int or not isinstance(csrf, str):
            return None
        return WebSession(token_id=token_id, csrf=csrf)


def new_session(token_id: int) -> WebSession:
    """A session for the token with id ``token_id``, with a fresh CSRF token."""
    return WebSession(token_id=token_id, csrf=secrets.token_urlsafe(32))


def app_settings(app: FastAPI) -> Settings:
    """The app's settings, honouring a test's override (as the lifespan does)."""
    provider = app.dependency_overrides.get(get_settings, get_settings)
    settings: Settings = provider()
    return settings


def codec(app: FastAPI) -> SessionCodec:
    """The app's session codec, made on first use from ``FLEET_SESSION_SECRET``."""
    found: SessionCodec | None = getattr(app.state, "web_session_codec", None)
    if found is None:
        configured = app_settings(app).session_secret
        if configured is None:
            log.warning(
                "FLEET_SESSION_SECRET is not set: signing web sessions with a random key of "
                "this process, so logins end when the API restarts and do not carry over "
                "between API workers"
            )
            secret = secrets.token_urlsafe(48)
        else:
            secret = configured.get_secret_value()
        found = SessionCodec(secret)
        app.state.web_session_codec = found
    return found


def read_session(request: Request) -> WebSession | None:
    """The request's session, if its cookie is valid."""
    return codec(request.app).load(request.cookies.get(COOKIE))


def _secure(request: Request) -> bool:
    # Behind a TLS proxy, uvicorn's --proxy-headers makes the scheme https.
    return request.url.scheme == "https"


def store_session(request: Request, response: Response, session: WebSession) -> None:
    """Set the session cookie on ``response``."""
    response.set_cookie(
        COOKIE,
        codec(request.app).dump(session),
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def end_session(request: Request, response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))


def store_language(request: Request, response: Response, language: str) -> None:
    """Remember the chosen language for a year (not a secret: not signed, not HttpOnly)."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        path="/",
        samesite="lax",
        secure=_secure(request),
    )


def same_site_request(request: Request) -> bool:
    """Whether the browser says the request comes from our own pages (or says nothing)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        return origin == own
    return True


def masked_csrf(session: WebSession) -> str:
    """The session's CSRF token under a fresh random mask, as a page carries it.

    Pages are compressed: a secret that were the same bytes in every response could be
    read back from compressed sizes (BREACH). Masked anew each time, it never repeats.
    """
    raw = session.csrf.encode()
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(
        pad + bytes(a ^ b for a, b in zip(raw, pad, strict=True))
    ).decode()


def _unmasked(presented: str, length: int) -> bytes | None:
    try:
        both = base64.urlsafe_b64decode(presented.encode())
    except (ValueError, binascii.Error):
        return None
    if len(both) != 2 * length:
        return None
    pad, masked = both[:length], both[length:]
    return bytes(a ^ b for a, b in zip(masked, pad, strict=True))


def csrf_matches(session: WebSession, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF token, masked or not (constant time)."""
    if presented is None:
        return False
    raw = session.csrf.encode()
    unmasked = _unmasked(presented, len(raw)) if len(presented) != len(session.csrf) else None
    return hmac.compare_digest(unmasked if unmasked is not None else presented.encode(), raw)
