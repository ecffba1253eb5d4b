"""Staff pages: login with a token, sessions, CSRF, and the API's roles applied to pages.

In-process (httpx ASGITransport), no sockets: the browser suite drives the same pages in
Chromium.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.orm import Session

from fleet_api.auth import Role
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.tokens import create_token, revoke_token
from fleet_api.web.session import SessionCodec, WebSession
from tests.fleet_api.conftest import AuthHeaders
from tests.fleet_api.tokens import ADMIN_TOKEN, TEST_ACTOR, add_token
from tests.fleet_api.web_client import csrf_of, log_in, seed_visit

PAGES = [
    "/ui/",
    "/ui/visits?month=2026-05",
    "/ui/visits/calendar?month=2026-05",
    "/ui/visits/{visit}",
    "/ui/visits/{visit}/readiness",
    "/ui/schools",
    "/ui/regions",
    "/ui/exhibits",
    "/ui/exhibits/ex-1",
    "/ui/technician",
    "/ui/reports/funder?from=2026-01-01&to=2026-12-31",
    "/ui/reports/funder/print?from=2026-01-01&to=2026-12-31",
    "/ui/places",
]


async def test_pages_send_a_person_without_a_session_to_the_login_page(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/ui/visits?month=2026-05")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fvisits%3Fmonth%3D2026-05"
    login = await anonymous.get(response.headers["location"])
    assert login.status_code == 200
    assert '<label for="token">API token</label>' in login.text
    assert 'name="next" value="/ui/visits?month=2026-05"' in login.text
    # htmx follows HX-Redirect instead of swapping a login page into a fragment.
    fragment = await anonymous.get("/ui/", headers={"HX-Request": "true"})
    assert fragment.status_code == 204
    assert fragment.headers["hx-redirect"].startswith("/ui/login?next=")
    assert (await anonymous.get("/")).headers["location"] == "/ui/"


async def test_login_sets_a_signed_httponly_lax_cookie_and_logout_ends_it(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post(
        "/ui/login", data={"token": ADMIN_TOKEN, "next": "/ui/technician"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/technician"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("fleet_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    # The cookie holds the token's id, never the token itself.
    value = cookie.split(";")[0].split("=", 1)[1]
    assert ADMIN_TOKEN not in base64.urlsafe_b64decode(value.split(".")[0] + "==").decode()
    dashboard = await anonymous.get("/ui/")
    assert dashboard.status_code == 200
    assert "Log out" in dashboard.text
    csrf = csrf_of(dashboard.text)
    # Logging out is a form like any other: without its CSRF token it is refused.
    assert (await anonymous.post("/ui/logout")).status_code == 403
    out = await anonymous.post("/ui/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert 'fleet_session=""' in out.headers["set-cookie"]
    assert (await anonymous.get("/ui/")).status_code == 303


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Enter your API token."),
        ("fleet_not-a-token-anyone-was-given-0123456789", "This token is not valid."),
    ],
)
async def test_a_bad_token_is_refused_with_a_message(
    anonymous: httpx.AsyncClient, token: str, message: str
) -> None:
    response = await anonymous.post("/ui/login", data={"token": token})
    assert response.status_code == 401
    assert message in response.text
    assert "set-cookie" not in response.headers


async def test_revoking_the_token_ends_its_sessions_at_once(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    with Session(app.state.engine) as session:
        created = create_token(session, name="Anna", role=Role.STAFF, actor=TEST_ACTOR)
    await log_in(anonymous, created.token)
    assert (await anonymous.get("/ui/")).status_code == 200
    with Session(app.state.engine) as session:
        revoke_token(session, token_id=created.id, actor=TEST_ACTOR)
    assert (await anonymous.get("/ui/")).status_code == 303
    again = await anonymous.post("/ui/login", data={"token": created.token})
    assert again.status_code == 401
    assert "revoked" in again.text


async def test_a_forged_cookie_is_no_session(anonymous: httpx.AsyncClient) -> None:
    await log_in(anonymous, ADMIN_TOKEN)
    genuine = anonymous.cookies["fleet_session"]
    assert (await anonymous.get("/ui/")).status_code == 200
    payload, _, signature = genuine.rpartition(".")
    anonymous.cookies.set("fleet_session", payload + "." + signature[::-1], domain="fleet.test")
    assert (await anonymous.get("/ui/")).status_code == 303
    # Another token id under the same signature: the signature no longer matches.
    forged = SessionCodec("another secret, say an old one, 0123456789").dump(
        WebSession(token_id=1, csrf="x")
    )
    anonymous.cookies.set("fleet_session", forged, domain="fleet.test")
    assert (await anonymous.get("/ui/")).status_code == 303


async def test_a_configured_secret_keeps_sessions_across_restarts(settings: Settings) -> None:
    secret = "a-long-random-secret-for-the-session-cookies-0123456789"
    configured = settings.model_copy(update={"session_secret": SecretStr(secret)})
    cookies = httpx.Cookies()
    for _ in range(2):  # the same settings, two app instances: a restart
        app = create_app(configured)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://fleet.test", cookies=cookies
            ) as browser:
                if not cookies:
                    await log_in(browser, ADMIN_TOKEN)
                    cookies = browser.cookies
                assert (await browser.get("/ui/")).status_code == 200


async def test_forms_need_the_session_csrf_token_and_our_own_origin(
    anonymous: httpx.AsyncClient,
) -> None:
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    school = {"name": "A", "municipality": "LV-058", "area": ""}
    assert (await anonymous.post("/ui/schools/new", data=school)).status_code == 403
    wrong = await anonymous.post("/ui/schools/new", data={**school, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert "The form has expired" in wrong.text
    cross_site = await anonymous.post(
        "/ui/schools/new",
        data={**school, "csrf_token": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    foreign_origin = await anonymous.post(
        "/ui/schools/new",
        data={**school, "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign_origin.status_code == 403
    # htmx sends the token as a header instead of a field.
    by_header = await anonymous.post(
        "/ui/schools/new",
        data=school,
        headers={"X-CSRF-Token": csrf, "Origin": "http://fleet.test"},
    )
    assert by_header.status_code == 303
    # Even the login form, which has no session yet, is refused from another site.
    login = await anonymous.post(
        "/ui/login", data={"token": ADMIN_TOKEN}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert login.status_code == 403


async def test_a_viewer_sees_every_page_but_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    csrf = await log_in(anonymous, add_token(app.state.engine, Role.VIEWER))
    for path in PAGES:
        response = await anonymous.get(path.format(visit=visit_id))
        assert response.status_code == 200, path
    visits = await anonymous.get("/ui/visits?month=2026-05")
    assert 'id="new-visit"' not in visits.text
    visit = await anonymous.get(f"/ui/visits/{visit_id}")
    assert 'id="checkout-button"' not in visit.text
    assert 'id="edit-visit"' not in visit.text
    for path in ("/ui/visits/new", f"/ui/visits/{visit_id}/edit", "/ui/schools/new"):
        refused = await anonymous.get(path)
        assert refused.status_code == 403, path
        assert "Not allowed" in refused.text
    for path in (
        "/ui/schools/new",
        f"/ui/visits/{visit_id}/checkout",
        "/ui/exhibits/ex-1/commands/identify",
    ):
        assert (await anonymous.post(path, data={"csrf_token": csrf})).status_code == 403, path


async def test_staff_may_not_send_commands_and_technicians_may_not_plan_visits(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await seed_visit(client, app.state.engine)
    csrf = await log_in(anonymous, add_token(app.state.engine, Role.STAFF))
    assert (await anonymous.get("/ui/visits/new")).status_code == 200
    technician_page = await anonymous.get("/ui/technician")
    assert technician_page.status_code == 200
    assert "Start a self-test" not in technician_page.text
    command = await anonymous.post(
        "/ui/exhibits/ex-1/commands/self_test", data={"csrf_token": csrf}
    )
    assert command.status_code == 403

    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fleet.test")
    async with other:
        await log_in(other, add_token(app.state.engine, Role.TECHNICIAN))
        assert (await other.get("/ui/visits/new")).status_code == 403
        assert "Start a self-test" in (await other.get("/ui/technician")).text


async def test_every_page_renders_for_an_admin(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    for path in [
        *PAGES,
        "/ui/visits/new",
        "/ui/visits/{visit}/edit",
        "/ui/schools/new",
        "/ui/schools/1/edit",
    ]:
        response = await anonymous.get(path.format(visit=visit_id))
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text, "inline scripts break the CSP"


@pytest.mark.parametrize("path", ["/ui/visits/999", "/ui/visits/abc", "/ui/exhibits/nope", "/ui/x"])
async def test_unknown_things_are_a_not_found_page(anonymous: httpx.AsyncClient, path: str) -> None:
    await log_in(anonymous, ADMIN_TOKEN)
    response = await anonymous.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_login_redirects_only_to_our_own_pages() -> None:
    from fleet_api.web.page import safe_next

    assert safe_next("/ui/visits/3?lang=lv") == "/ui/visits/3?lang=lv"
    for hostile in ("https://evil.example/", "//evil.example/ui/", "/docs", None, ""):
        assert safe_next(hostile) == "/ui/"
