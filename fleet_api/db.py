"""Engines and migrations: the same code on SQLite (the default) and PostgreSQL.

The ingest acks a message to the broker only after its transaction committed, so a
commit must survive a power cut: SQLite runs in WAL mode with ``synchronous=FULL``
(``NORMAL`` may roll back committed transactions on power loss), PostgreSQL with
``synchronous_commit=on`` whatever the server default says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from fleet_api.errors import DatabaseError, SchemaOutOfDate

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant works; it only has to be the same for every process migrating this database.
_PG_MIGRATION_LOCK = 0x666C656574


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine for ``database_url`` with the durability and locking settings we rely on."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, **kwargs)
    connect_args = {"options": "-c synchronous_commit=on"}
    return create_engine(database_url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_engine(database_url: str, **kwargs: Any) -> Engine:
    engine = create_engine(
        database_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
        # that DDL in migrations is transactional too (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and
        # then writes fails at once with "database is locked" when another writer
        # committed in between, whereas IMMEDIATE waits for the busy timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The revision the code expects the database to be at."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the schema revision: {_first_line(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision``; safe to run from several processes at once."""
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several API workers may start together: one migrates, the others wait
                # and then find nothing to do. SQLite's BEGIN IMMEDIATE does the same.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            command.upgrade(alembic_config(connection), revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migrating the database failed: {_first_line(exc)}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` empties it); for tests and repairs."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def ensure_at_head(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database is at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at revision {current or 'none (empty)'} but this code needs "
            f"{head}: run `fleet-api migrate` or set FLEET_MIGRATE_ON_START=true"
        )


def ping(engine: Engine) -> None:
    """Raise DatabaseError unless a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseError(f"the database is unreachable: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
