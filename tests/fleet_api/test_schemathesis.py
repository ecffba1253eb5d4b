"""Property-based: schemathesis drives every operation of the OpenAPI schema in-process.

(The same from outside, with every check, on SQLite and PostgreSQL:
``test_schemathesis_live.py``.)

The app runs on SQLite with the admin token, through schemathesis' ASGI transport (no
sockets), with a bounded number of generated requests per operation, schema-valid ones
(positive) and schema-violating ones (negative). Every answer must be below 500 and
match the schema: a documented status, content type, headers and body. Positive
requests must also never be refused for the token (a 401 is documented, so the schema
checks alone would let a run that lost its token pass), and the run's own admin token
is restored after each request because ``DELETE /tokens/{id}`` may well revoke it.

The one 5xx allowed: 503 ``broker_unavailable``, the documented answer of a route that
publishes to exhibits, since this run has no broker (the same run with a broker is
the integration tests' business).

Not checked, on purpose: that schema-valid data is accepted (``ends_at`` after
``starts_at`` and ``to`` after ``from`` are rules the schema cannot state, so a 422 is
right), and that unknown query parameters are refused (they are ignored, as usual).

schemathesis' own pytest integration (``from_fixture`` + ``parametrize``) breaks on
pytest 9 (it reads ``request.node._nodeid``), so the operations are parametrized here
and each one runs a hypothesis test built from ``operation.as_strategy()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import update

from fleet_api.auth import hash_token
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.tables import api_tokens
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN

pytestmark = pytest.mark.integration

OPERATIONS = sorted(
    (path, method)
    for path, methods in create_app().openapi()["paths"].items()
    for method in methods
)
EXAMPLES = max(10, 1200 // (2 * len(OPERATIONS)))
"""Generated requests per operation and mode: about 1200 in all (~40 s on two cores)."""


def below_500(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """No 5xx, except the 503 of a broker this run does not have."""
    if response.status_code == 503 and response.json().get("code") == "broker_unavailable":
        return None
    return not_a_server_error(ctx, response, case)


def authenticated(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """The run's admin token is accepted: no 401 or 403 for a well-formed request."""
    assert response.status_code not in (401, 403), f"the admin token was refused: {response.text}"


CHECKS: dict[GenerationMode, list[schemathesis.CheckFunction]] = {
    mode: [
        below_500,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
        *([authenticated] if mode is GenerationMode.POSITIVE else []),
    ]
    for mode in GenerationMode
}


@pytest.fixture(scope="module")
def app_under_test(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OpenApiSchema, Callable[[], None]]]:
    """The app's schema, loaded from the app, and a function un-revoking the admin token."""
    database: Path = tmp_path_factory.mktemp("schemathesis") / "fleet.db"
    settings = Settings(
        database_url=f"sqlite:///{database}", mqtt_url=None, bootstrap_admin_token=ADMIN_TOKEN
    )
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan

    def restore_admin() -> None:
        with app.state.engine.begin() as connection:
            connection.execute(
                update(api_tokens)
                .where(api_tokens.c.token_hash == hash_token(ADMIN_TOKEN))
                .values(revoked_at=None)
            )

    yield schema, restore_admin
    asgi.shutdown_lifespans()


@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_every_answer_is_below_500_and_matches_the_schema(
    app_under_test: tuple[OpenApiSchema, Callable[[], None]],
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    schema, restore_admin = app_under_test
    operation = schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=ADMIN_HEADERS, checks=CHECKS[mode])
        finally:
            restore_admin()

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip(f"{method.upper()} {path} has no input to make invalid")
