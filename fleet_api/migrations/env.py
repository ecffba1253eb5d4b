"""Alembic environment: runs on the connection ``fleet_api.db`` hands over.

``fleet-api migrate`` and the API's start-up pass an open connection (inside a
transaction) in ``config.attributes["connection"]``. Run from the ``alembic`` command
line instead (``alembic -c fleet_api/migrations/alembic.ini revision ...``), it builds an
engine from ``FLEET_DATABASE_URL`` like the API does.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from fleet_api.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the given connection, or on a new engine from the settings."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from fleet_api.db import make_engine
    from fleet_api.settings import load_settings

    engine = make_engine(load_settings().database_url)
    try:
        with engine.begin() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `fleet-api migrate`")
run_migrations_online()
