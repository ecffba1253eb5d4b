"""Fixtures of the fleet API tests: databases (SQLite always, PostgreSQL when reachable), apps.

Every test app bootstraps the admin token ``ADMIN_TOKEN``; ``client`` sends it, so a test
about the domain needs nothing more. ``auth_headers("staff")`` gives headers with a token
of another role, and ``anonymous`` is a client without any token.

``db_url`` runs a test on both backends: the SQLite variant is a unit test (a file in
tmp_path, no sockets); the PostgreSQL variant is marked ``integration`` and ``postgres``
and gets its URL from ``database_url``: one database per test run, created on the
server at ``FLEET_TEST_DATABASE_URL`` (default: the local server's ``test`` database as
the admin connection), migrated once, emptied before each test, dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from fleet_api.auth import Role
from fleet_api.db import make_engine, upgrade
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.tables import metadata
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN, add_token, bearer

AuthHeaders = Callable[[str], dict[str, str]]

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HINT = (
    "set FLEET_TEST_DATABASE_URL to an admin connection (it creates and drops a database), "
    "or run a local server: sudo apt-get install postgresql"
)


@pytest.fixture(scope="session")
def _postgres_run_database() -> Iterator[str]:
    """A database of its own for this test run, migrated to head; dropped at the end."""
    admin_url = make_url(os.environ.get("FLEET_TEST_DATABASE_URL", DEFAULT_ADMIN_URL))
    admin = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"fleet_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0]
        where = admin_url.render_as_string()
        message = f"PostgreSQL at {where} is not reachable ({reason}): {PG_HINT}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing real component is a failure)")
        pytest.skip(message)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(_postgres_run_database: str) -> str:
    """The run's PostgreSQL database, emptied and at head for this test."""
    engine = make_engine(_postgres_run_database)
    upgrade(engine)  # a test may have downgraded it
    # The places are reference data the migration seeds: they stay (no test changes them).
    kept = {"places", "place_datasets"}
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name not in kept)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return _postgres_run_database


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    """A new SQLite database file (not migrated)."""
    return f"sqlite:///{tmp_path}/fleet.db"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A migrated-or-empty database URL on each backend (see the module docstring)."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("database_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database of each backend."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for an API without ingestion on the test database, with the test admin token."""
    return Settings(database_url=db_url, mqtt_url=None, bootstrap_admin_token=ADMIN_TOKEN)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (httpx's ASGITransport does not run it)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def auth_headers(app: FastAPI) -> AuthHeaders:
    """``auth_headers(role)``: headers with a token of that role (made on first use)."""
    made = {Role.ADMIN: ADMIN_TOKEN}

    def headers(role: str) -> dict[str, str]:
        key = Role(role)
        if key not in made:
            made[key] = add_token(app.state.engine, key)
        return bearer(made[key])

    return headers


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, no sockets, with the admin token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fleet.test", headers=ADMIN_HEADERS
    ) as client:
        yield client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client without a token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fleet.test") as client:
        yield client
