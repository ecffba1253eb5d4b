"""The one place that knows how each backend does INSERT ... ON CONFLICT (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from fleet_api.tables import UTCDateTime

Insert = postgresql.Insert | sqlite.Insert


def insert(connection: Connection, table: Table) -> Insert:
    """An INSERT for ``table`` that supports ``on_conflict_do_nothing/_update`` on this backend."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_new(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (values in ``columns`` order), skipping those whose ``key`` exists;
    return the ``key`` of each row inserted.

    Only the rows actually inserted come back, so a caller maintaining totals (rollups)
    adds exactly what is new and a replay adds nothing.

    The statement goes to the driver as SQL text with values converted here, column by
    column, the way the table's types would convert them: SQLAlchemy's per-row parameter
    processing was most of the write path's time (6-13k rows/s). A batch repeats few
    distinct times, so each is converted once.
    """
    if not rows:
        return []
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    conflict = f"ON CONFLICT ({', '.join(quote(k) for k in key)}) DO NOTHING"
    back = f"RETURNING {', '.join(quote(k) for k in key)}"
    target = quote(table.name)
    times = [n for n, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)]
    if connection.dialect.name == "postgresql":
        # One statement with one array per column: psycopg parses a many-row VALUES
        # statement in Python, which made this 5x slower (5.7k vs 28k rows/s). The arrays
        # go in binary (%b): psycopg's text array dumper quotes each element with regexes
        # in Python, 3.5x the client CPU (0.94 vs 0.27 CPU-s for 63k rows).
        casts = [table.c[name].type.compile(connection.dialect) for name in columns]
        arrays = ", ".join(f"%b::{cast}[]" for cast in casts)
        statement = (
            f"INSERT INTO {target} ({names}) SELECT * FROM unnest({arrays}) {conflict} {back}"
        )
        values: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
        aware = _Converted(_aware)
        for n in times:
            values[n] = [aware(value) for value in values[n]]
        return [tuple(row) for row in connection.exec_driver_sql(statement, tuple(values))]
    text = _Converted(_sqlite_time)
    found: list[tuple[Any, ...]] = []
    for first in range(0, len(rows), _SQLITE_ROWS_PER_STATEMENT):
        chunk = rows[first : first + _SQLITE_ROWS_PER_STATEMENT]
        placeholders = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(chunk))
        params: list[Any] = []
        for row in chunk:
            converted = list(row)
            for n in times:
                converted[n] = text(converted[n])
            params += converted
        statement = f"INSERT INTO {target} ({names}) VALUES {placeholders} {conflict} {back}"
        found += [tuple(row) for row in connection.exec_driver_sql(statement, tuple(params))]
    return found


class _Converted:
    """``convert`` of each distinct non-None value, computed once."""

    def __init__(self, convert: Callable[[datetime], Any]) -> None:
        self._convert = convert
        self._done: dict[datetime, Any] = {}

    def __call__(self, value: datetime | None) -> Any:
        if value is None:
            return None
        done = self._done.get(value)
        if done is None:
            # Equal datetimes are the same instant, so they convert to the same UTC value;
            # a naive one never equals an aware one, so it still reaches _aware's refusal.
            done = self._done[value] = self._convert(value)
        return done


# SQLite allows 32,766 variables per statement (3.32+): 500 rows of up to ~65 columns.
_SQLITE_ROWS_PER_STATEMENT = 500


def _aware(value: datetime | None) -> datetime | None:
    """What UTCDateTime binds: UTC, naive values refused."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the fleet stores UTC-aware times only")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime) -> str:
    """UTCDateTime's SQLite storage: SQLAlchemy's DATETIME text of the UTC time."""
    utc = _aware(value)
    assert utc is not None
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds")
