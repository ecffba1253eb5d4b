"""Fleet health: what the fleet last heard from each exhibit, with alerts
(:func:`fleet_api.alerts.alerts`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, select
from sqlalchemy.orm import Session

from fleet_api.agent_versions import VersionPolicy, version_policy
from fleet_api.alerts import Connectivity, HealthFacts, Severity, Thresholds, alerts, connectivity
from fleet_api.completeness import gaps
from fleet_api.config_drift import config_state
from fleet_api.errors import UnknownExhibit
from fleet_api.models.health import (
    AlertPublic,
    AssignmentPublic,
    ExhibitHealth,
    ExhibitHealthDetail,
    FleetHealth,
    HeartbeatPublic,
    UnplacedExhibit,
)
from fleet_api.models.usage import SeqGap
from fleet_api.models.visits import VisitStatus
from fleet_api.store.commands import latest_self_tests, recent_commands
from fleet_api.store.configs import newest_versions
from fleet_api.store.conflicts import load_counts as load_conflict_counts
from fleet_api.store.heartbeats import HEALTH_FIELDS, heartbeat_history_of
from fleet_api.store.seq_ranges import load_ranges
from fleet_api.store.unplaced import by_exhibit as unplaced_by_exhibit
from fleet_api.tables import (
    exhibit_assignments,
    exhibit_heartbeats,
    exhibit_status,
    exhibits,
    visit_exhibits,
    visits,
)

MAX_GAPS = 100
HISTORY = timedelta(hours=24)
MAX_HEARTBEATS = 1500


def fleet_health(session: Session, *, thresholds: Thresholds, now: datetime) -> FleetHealth:
    """Every registered exhibit's health."""
    connection = session.connection()
    policy = agent_version_policy(connection, thresholds.current_agent_version)
    items = _health(connection, thresholds=thresholds, now=now, exhibit_id=None, policy=policy)
    states = [item.connectivity for item in items]
    return FleetHealth(
        checked_at=now,
        online=states.count(Connectivity.ONLINE),
        offline=states.count(Connectivity.OFFLINE),
        unknown=states.count(Connectivity.UNKNOWN),
        warnings=sum(
            1 for item in items for alert in item.alerts if alert.severity is Severity.WARNING
        ),
        current_agent_version=policy.current,
        current_agent_version_basis=policy.basis,
        exhibits=items,
        unplaced=[
            UnplacedExhibit(
                exhibit_id=item.exhibit_id,
                records=item.unplaced_records,
                interactions=item.unplaced_interactions,
                candidate_visit_ids=item.unplaced_candidate_visit_ids,
            )
            for item in items
            if item.unplaced_records
        ],
    )


def exhibit_health(
    session: Session, *, exhibit_id: str, thresholds: Thresholds, now: datetime
) -> ExhibitHealthDetail:
    """One exhibit's health with its gaps, last day of heartbeats and latest commands."""
    connection = session.connection()
    policy = agent_version_policy(connection, thresholds.current_agent_version)
    found = _health(
        connection, thresholds=thresholds, now=now, exhibit_id=exhibit_id, policy=policy
    )
    if not found:
        raise UnknownExhibit(f"exhibit {exhibit_id!r} is not registered")
    missing = gaps(load_ranges(connection, [exhibit_id])[exhibit_id])
    history = heartbeat_history_of(
        connection, exhibit_id=exhibit_id, since=now - HISTORY, limit=MAX_HEARTBEATS
    )
    return ExhibitHealthDetail(
        **found[0].model_dump(),
        gaps=[SeqGap(first=gap.first, last=gap.last) for gap in missing[:MAX_GAPS]],
        heartbeats=[_heartbeat(row) for row in history],
        commands=recent_commands(connection, exhibit_id=exhibit_id),
    )


def agent_version_policy(connection: Connection, configured: str | None) -> VersionPolicy:
    """The current agent version: ``configured``, else the newest a registered exhibit reports."""
    if configured is not None:
        return version_policy(configured, [])
    reported = connection.execute(select(exhibit_status.c.agent_version).distinct()).scalars()
    return version_policy(None, reported)


def _health(
    connection: Connection,
    *,
    thresholds: Thresholds,
    now: datetime,
    exhibit_id: str | None,
    policy: VersionPolicy,
) -> list[ExhibitHealth]:
    beat = exhibit_heartbeats.c
    statement = (
        select(
            exhibits.c.id,
            exhibits.c.name,
            exhibits.c.inputs,
            exhibits.c.expected_config_hash,
            exhibit_status.c.online,
            exhibit_status.c.status_at,
            exhibit_status.c.last_seen_at,
            exhibit_status.c.boot_id.label("status_boot_id"),
            exhibit_status.c.agent_version,
            exhibit_status.c.config_hash,
            exhibit_status.c.reported_inputs,
            exhibit_status.c.config_version,
            beat.exhibit_id.label("beat_exhibit_id"),
            beat.received_at,
            *(beat[name] for name in HEALTH_FIELDS),
            exhibit_assignments.c.visit_id.label("assigned_visit_id"),
            exhibit_assignments.c.issued_at.label("assigned_at"),
        )
        .outerjoin(exhibit_status, exhibit_status.c.exhibit_id == exhibits.c.id)
        .outerjoin(exhibit_heartbeats, beat.exhibit_id == exhibits.c.id)
        .outerjoin(exhibit_assignments, exhibit_assignments.c.exhibit_id == exhibits.c.id)
        .order_by(exhibits.c.id)
    )
    if exhibit_id is not None:
        statement = statement.where(exhibits.c.id == exhibit_id)
    rows = list(connection.execute(statement).mappings())
    ids = [row["id"] for row in rows]
    ranges = load_ranges(connection, ids)
    self_tests = latest_self_tests(connection, ids)
    conflicts = load_conflict_counts(connection, ids)
    pushed = newest_versions(connection, ids)
    unplaced = unplaced_by_exhibit(connection)
    visit_now = dict(
        connection.execute(
            select(visit_exhibits.c.exhibit_id, visits.c.id)
            .join(visits, visits.c.id == visit_exhibits.c.visit_id)
            .where(
                visit_exhibits.c.exhibit_id.in_(ids),
                visits.c.starts_at <= now,
                visits.c.ends_at > now,
                # A cancelled trip takes no exhibit anywhere: its window raises no alert.
                visits.c.status != VisitStatus.CANCELLED.value,
            )
        ).all()
    )
    result = []
    for row in rows:
        heartbeat = _heartbeat(row) if row["beat_exhibit_id"] is not None else None
        self_test = self_tests.get(row["id"])
        newest = pushed.get(row["id"])
        # A heartbeat is news from the exhibit too, though the status row may be older.
        seen = [t for t in (row["last_seen_at"], row["received_at"]) if t is not None]
        facts = HealthFacts(
            online=row["online"],
            last_seen_at=max(seen) if seen else None,
            visit_now=visit_now.get(row["id"]),
            clock_synced=None if heartbeat is None else heartbeat.clock_synced,
            under_voltage=None if heartbeat is None else heartbeat.under_voltage,
            throttled=None if heartbeat is None else heartbeat.throttled,
            disk_free_bytes=None if heartbeat is None else heartbeat.disk_free_bytes,
            outbox_depth=None if heartbeat is None else heartbeat.outbox_depth,
            missing_records=sum(gap.size for gap in gaps(ranges[row["id"]])),
            self_test_passed=None if self_test is None else self_test.passed,
            config=config_state(
                expected_hash=row["expected_config_hash"],
                reported_hash=row["config_hash"],
                registered_inputs=row["inputs"],
                reported_inputs=row["reported_inputs"],
                pushed_outcome=None if newest is None else newest.outcome,
                pushed_hash=None if newest is None else newest.config_hash,
                reported_version=row["config_version"],
                pushed_version=None if newest is None else newest.version,
            ),
            agent_outdated=policy.outdated(row["agent_version"]),
            conflicts=conflicts[row["id"]].records if row["id"] in conflicts else 0,
            seq_restarts=conflicts[row["id"]].restarts if row["id"] in conflicts else 0,
            refused_subscriptions=tuple(
                sorted((heartbeat.refused_subscriptions or {}) if heartbeat else {})
            ),
            unplaced_records=unplaced[row["id"]][0].records if row["id"] in unplaced else 0,
            unplaced_interactions=(
                unplaced[row["id"]][0].interactions if row["id"] in unplaced else 0
            ),
            unplaced_visits=tuple(unplaced[row["id"]][1]) if row["id"] in unplaced else (),
        )
        result.append(
            ExhibitHealth(
                exhibit_id=row["id"],
                name=row["name"],
                connectivity=connectivity(facts, now=now, thresholds=thresholds),
                online=row["online"],
                status_at=row["status_at"],
                last_seen_at=facts.last_seen_at,
                boot_id=row["status_boot_id"],
                agent_version=row["agent_version"],
                agent_outdated=facts.agent_outdated,
                config_hash=row["config_hash"],
                expected_config_hash=row["expected_config_hash"],
                reported_inputs=row["reported_inputs"],
                config=facts.config,
                config_version=row["config_version"],
                expected_config_version=None if newest is None else newest.version,
                config_outcome=None if newest is None else newest.outcome,
                config_refused_reason=None if newest is None else newest.reason,
                heartbeat=heartbeat,
                assignment=None
                if row["assigned_at"] is None
                else AssignmentPublic(
                    visit_id=row["assigned_visit_id"], issued_at=row["assigned_at"]
                ),
                visit_now=facts.visit_now,
                max_seq=ranges[row["id"]][-1].last if ranges[row["id"]] else None,
                missing_records=facts.missing_records,
                conflicts=facts.conflicts,
                seq_restarts=facts.seq_restarts,
                unplaced_records=facts.unplaced_records,
                unplaced_interactions=facts.unplaced_interactions,
                unplaced_candidate_visit_ids=list(facts.unplaced_visits),
                self_test=self_test,
                alerts=[
                    AlertPublic(code=a.code, severity=a.severity, message=a.message)
                    for a in alerts(facts, now=now, thresholds=thresholds)
                ],
            )
        )
    return result


def _heartbeat(row: RowMapping | dict[str, Any]) -> HeartbeatPublic:
    return HeartbeatPublic(
        received_at=row["received_at"], **{name: row[name] for name in HEALTH_FIELDS}
    )
