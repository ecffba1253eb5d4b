"""The fleet's database for one simulated run: an SQLite file, or a PostgreSQL database of its own.

PostgreSQL runs get a fresh database (``sim_<random>``) created through an admin
connection, default the local server (``FLEET_TEST_DATABASE_URL`` as the tests use it,
else ``postgresql://postgres@127.0.0.1:5432/postgres``), and dropped afterwards. The API
migrates it at start. psycopg comes with the ``api`` extra, which the fleet API child
process needs anyway.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from simulator.errors import SimError

Backend = Literal["sqlite", "postgresql"]
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_URL_ENV = "FLEET_TEST_DATABASE_URL"


class DatabaseUnavailable(SimError, ConnectionError):
    """The PostgreSQL server cannot be reached or refuses to create a database."""


def admin_url() -> str:
    """Where to create databases: ``FLEET_TEST_DATABASE_URL`` or the local server."""
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def _libpq(url: str) -> str:
    # SQLAlchemy spells the driver into the scheme; libpq does not know it.
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def database_url(admin: str, name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the server of ``admin`` (same user, options)."""
    address, question, query = _libpq(admin).partition("?")
    server = address.rpartition("/")[0].removeprefix("postgresql://")
    return f"postgresql+psycopg://{server}/{name}{question}{query}"


@contextmanager
def run_database(backend: Backend, work_dir: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database for one run; dropped after (PostgreSQL)."""
    if backend == "sqlite":
        work_dir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{work_dir / 'fleet.db'}"
        return
    import psycopg  # only PostgreSQL runs need it
    from psycopg import sql

    admin = admin_url()
    name = f"sim_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=3) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {admin} cannot create a database ({str(exc).strip()}); set "
            f"{ADMIN_URL_ENV} to an admin connection, or use --database sqlite"
        ) from None
    try:
        yield database_url(admin, name)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=3) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
