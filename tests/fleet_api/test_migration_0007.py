"""Migration 0007 on a database holding a quarantine: each row gets its exhibit (from its
topic) and its size, and the running totals start at what is held."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine, inspect, select

from fleet_api.db import downgrade, upgrade
from fleet_api.store.quarantine_bounds import QuarantineTotals, totals
from fleet_api.tables import UTCDateTime
from fleet_api.tables_ingest import quarantine

ROWS = [
    ("fleet/v1/exhibits/exhibit-001/counts", b"x" * 100, "half a message"),
    ("fleet/v1/exhibits/exhibit-001/status", b"", "empty"),
    ("somewhere/else", b"\xff" * 7, "not ours"),
]
OLD = sa.table(
    "quarantine",
    sa.column("received_at", UTCDateTime()),
    sa.column("topic", sa.Text()),
    sa.column("payload", sa.LargeBinary()),
    sa.column("reason", sa.String(32)),
    sa.column("detail", sa.Text()),
)
"""The quarantine as revision 0006 has it."""


def test_the_quarantine_is_measured_and_attributed(engine: Engine) -> None:
    downgrade(engine, "0006")
    columns = {column["name"] for column in inspect(engine).get_columns("quarantine")}
    assert {"exhibit_id", "size", "stored"}.isdisjoint(columns)
    assert "quarantine_totals" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            OLD.insert(),
            [
                {
                    "received_at": datetime(2026, 5, 4, tzinfo=UTC),
                    "topic": topic,
                    "payload": payload,
                    "reason": "malformed",
                    "detail": detail,
                }
                for topic, payload, detail in ROWS
            ],
        )
    upgrade(engine)
    with engine.connect() as connection:
        found = connection.execute(
            select(quarantine.c.exhibit_id, quarantine.c.size).order_by(quarantine.c.id)
        ).all()
        held = totals(connection)
    sizes = [len(payload) + len(detail) + len(topic) for topic, payload, detail in ROWS]
    assert [tuple(row) for row in found] == [
        ("exhibit-001", sizes[0]),
        ("exhibit-001", sizes[1]),
        (None, sizes[2]),
    ]
    assert held == QuarantineTotals(rows=3, bytes=sum(sizes))
