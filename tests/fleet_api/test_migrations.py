"""Migrations create exactly the schema the code declares, both ways, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import inspect

from fleet_api.db import (
    current_revision,
    downgrade,
    ensure_at_head,
    head_revision,
    make_engine,
    upgrade,
)
from fleet_api.errors import SchemaOutOfDate
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.tables import metadata


def test_migrations_create_exactly_the_declared_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        upgrade(engine)  # a second run finds nothing to do
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_an_unmigrated_database_is_refused_with_the_fix(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(SchemaOutOfDate, match=r"none \(empty\).*run `fleet-api migrate`"):
            ensure_at_head(engine)
    finally:
        engine.dispose()


async def test_the_app_refuses_to_start_unmigrated_when_told_not_to_migrate(
    sqlite_url: str,
) -> None:
    app: FastAPI = create_app(Settings(database_url=sqlite_url, migrate_on_start=False))
    with pytest.raises(SchemaOutOfDate):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - never reached
    migrating = create_app(Settings(database_url=sqlite_url))
    async with migrating.router.lifespan_context(migrating):
        assert migrating.state.engine is not None
    async with app.router.lifespan_context(app):
        assert app.state.engine is not None


def test_sqlite_runs_durable_wal_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
