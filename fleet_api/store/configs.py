"""Configurations pushed to exhibits: each version, and what each exhibit reported of it.

A version is recorded once the broker acknowledged it (:mod:`fleet_api.configuring`);
versions count up from 1 per exhibit, under the exhibit's row lock, and a new one is
numbered above every version stored *and* every version the exhibit said it runs (its
birth, ``exhibit_status.config_version``) or answered (``config_version_answered``, kept
for a version this database has no record of too): a fleet restored from a backup older
than its last push does not count from a version the agent ignores (it takes only a
version above the one it runs). A report
(``ConfigReport``: applied, waiting, refused) updates its version's outcome; an older
``waiting`` never overwrites an ``applied`` or ``refused`` of the same version (a
redelivered report arriving late; the exhibit's clock cannot order them).

The history shows a version with no final answer (``applied`` or ``refused``) while a
newer one exists as ``superseded`` by the next: the retained message holds the newest
only, and the agent drops a version it holds for a visit when a newer one arrives, so it
will never apply it. The stored outcome stays what the exhibit said; a final answer that
still comes (the exhibit applied it just before the newer one reached it) is shown as
such. The newest version is never superseded, so fleet health is unchanged by this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select

from broker.messages import ConfigReport, ExhibitConfig
from fleet_api.models.configs import ConfigVersionPublic
from fleet_api.store.dialect import insert
from fleet_api.tables import exhibit_status
from fleet_api.tables_config import exhibit_configs

_RANK = {None: 0, "waiting": 1, "applied": 2, "refused": 2}
"""A report replaces one of lower rank only: waiting gives way to its end."""


def next_version(connection: Connection, exhibit_id: str) -> int:
    """The version a new configuration of ``exhibit_id`` gets (hold the exhibit's row): above
    every version stored and every version the exhibit said it runs or answered."""
    table = exhibit_configs.c
    stored = connection.execute(
        select(func.max(table.version)).where(table.exhibit_id == exhibit_id)
    ).scalar()
    status = exhibit_status.c
    heard = connection.execute(
        select(status.config_version, status.config_version_answered).where(
            status.exhibit_id == exhibit_id
        )
    ).first()
    return max(int(version or 0) for version in (stored, *(heard or ()))) + 1


def record_config(connection: Connection, *, message: ExhibitConfig, issued_by: str) -> None:
    """Remember a configuration the broker has acknowledged."""
    connection.execute(
        exhibit_configs.insert().values(
            exhibit_id=message.exhibit_id,
            version=message.version,
            config=message.config,
            config_hash=message.config_hash,
            force=bool(message.force),
            issued_at=message.issued_at,
            issued_by=issued_by,
        )
    )


def history(
    connection: Connection, *, exhibit_id: str, limit: int, offset: int = 0
) -> list[ConfigVersionPublic]:
    """The exhibit's versions, newest first (an unanswered older one ``superseded``)."""
    table = exhibit_configs.c
    newest = connection.execute(
        select(func.max(table.version)).where(table.exhibit_id == exhibit_id)
    ).scalar()
    rows = connection.execute(
        select(exhibit_configs)
        .where(table.exhibit_id == exhibit_id)
        .order_by(table.version.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_public(row, newest=newest) for row in rows]


def count_versions(connection: Connection, *, exhibit_id: str) -> int:
    """How many versions the exhibit has had."""
    table = exhibit_configs.c
    return int(
        connection.execute(
            select(func.count()).select_from(exhibit_configs).where(table.exhibit_id == exhibit_id)
        ).scalar_one()
    )


def newest_versions(
    connection: Connection, exhibit_ids: Sequence[str]
) -> dict[str, ConfigVersionPublic]:
    """The newest version pushed to each of ``exhibit_ids`` that has one."""
    if not exhibit_ids:
        return {}
    table = exhibit_configs.c
    newest = (
        select(table.exhibit_id, func.max(table.version).label("version"))
        .where(table.exhibit_id.in_(sorted(set(exhibit_ids))))
        .group_by(table.exhibit_id)
        .subquery()
    )
    rows = connection.execute(
        select(exhibit_configs).join(
            newest,
            (newest.c.exhibit_id == table.exhibit_id) & (newest.c.version == table.version),
        )
    )
    return {row.exhibit_id: _public(row) for row in rows}


def store_reports(connection: Connection, reports: Sequence[tuple[ConfigReport, datetime]]) -> None:
    """Store what each exhibit reported of a version (a version this database has no
    record of, pushed before a restore or by another fleet, only raises the exhibit's
    highest answered version: the next push is numbered above it)."""
    table = exhibit_configs.c
    _note_answered(connection, reports)
    for report, received_at in reports:
        row = connection.execute(
            select(table.outcome).where(
                table.exhibit_id == report.exhibit_id, table.version == report.version
            )
        ).first()
        if row is None or _RANK[report.outcome] < _RANK[row.outcome]:
            continue
        connection.execute(
            exhibit_configs.update()
            .where(table.exhibit_id == report.exhibit_id, table.version == report.version)
            .values(
                outcome=report.outcome,
                reason=report.reason,
                outcome_at=report.at,
                reported_at=received_at,
            )
        )


def _note_answered(
    connection: Connection, reports: Sequence[tuple[ConfigReport, datetime]]
) -> None:
    """Raise each exhibit's ``config_version_answered`` to the highest version it answered."""
    highest: dict[str, tuple[int, datetime]] = {}
    for report, received_at in reports:
        version, at = highest.get(report.exhibit_id, (0, received_at))
        highest[report.exhibit_id] = (max(version, report.version), max(at, received_at))
    status = exhibit_status.c
    for exhibit_id, (version, received_at) in sorted(highest.items()):
        # A report is news from the exhibit: a status row is made if it has none yet.
        connection.execute(
            insert(connection, exhibit_status)
            .values(exhibit_id=exhibit_id, last_seen_at=received_at)
            .on_conflict_do_nothing(index_elements=["exhibit_id"])
        )
        connection.execute(
            exhibit_status.update()
            .where(
                status.exhibit_id == exhibit_id,
                or_(
                    status.config_version_answered.is_(None),
                    status.config_version_answered < version,
                ),
            )
            .values(config_version_answered=version)
        )


def _public(row: Row[Any], *, newest: int | None = None) -> ConfigVersionPublic:
    """``newest``: the exhibit's highest version, to tell a superseded one (None: don't)."""
    superseded = (
        newest is not None and row.version < newest and row.outcome not in ("applied", "refused")
    )
    return ConfigVersionPublic(
        exhibit_id=row.exhibit_id,
        version=row.version,
        config=row.config,
        config_hash=row.config_hash,
        force=bool(row.force),
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        outcome="superseded" if superseded else row.outcome,
        superseded_by=row.version + 1 if superseded else None,
        reason=row.reason,
        outcome_at=row.outcome_at,
        reported_at=row.reported_at,
    )
