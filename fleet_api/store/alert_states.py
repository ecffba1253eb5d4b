"""Alert states in the database: each evaluation folds what applies now into them
(:func:`fleet_api.alert_changes.step`) and, in the same transaction, records each
change with its notification body and queues one delivery per destination.

Evaluations are serialised (PostgreSQL: a transaction-scoped advisory lock; SQLite:
``BEGIN IMMEDIATE``), so two API processes evaluating at once cannot both raise the same
alert; the unique (event, channel, destination) key of the outbox is the last guard.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.orm import Session

from fleet_api.alert_changes import (
    AlertState,
    Change,
    Hold,
    Observed,
    exhibit_alert_id,
    step,
)
from fleet_api.alert_tables import alert_events, alert_states
from fleet_api.alerts import AlertCode, Severity, Thresholds
from fleet_api.notifications.events import event_body
from fleet_api.notifications.outbox import Target, enqueue
from fleet_api.store.dialect import insert
from fleet_api.store.fleet_health import fleet_health
from fleet_api.tables import exhibits

_PG_ALERT_LOCK = 0x666C656574_18
EVENT_RETENTION = timedelta(days=90)
"""Events (and their deliveries) older than this are deleted."""
_RANK = {Severity.INFO: 0, Severity.WARNING: 1}


@dataclass(frozen=True, slots=True)
class Targets:
    """Where changes go: the configured destinations and the least severity sent."""

    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    min_severity: Severity = Severity.WARNING
    public_url: str | None = None

    def for_severity(self, severity: Severity) -> list[Target]:
        """Every destination of a change of ``severity`` (none below the minimum)."""
        if _RANK[severity] < _RANK[self.min_severity]:
            return []
        return [Target("webhook", name) for name in self.webhooks] + [
            Target("email", address) for address in self.emails
        ]


def evaluate_exhibits(
    engine: Engine,
    *,
    thresholds: Thresholds,
    hold: Hold,
    targets: Targets,
    now: datetime,
    new_episode: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> list[Change]:
    """Evaluate every exhibit's alerts now; record and queue what changed."""
    with engine.begin() as connection:
        _lock(connection)
        with Session(bind=connection) as session:
            health = fleet_health(session, thresholds=thresholds, now=now)
        retired = set(
            connection.execute(
                select(exhibits.c.id).where(exhibits.c.retired_at.is_not(None))
            ).scalars()
        )
        observed: dict[str, Observed] = {}
        names: dict[str, str] = {}
        for item in health.exhibits:
            names[item.exhibit_id] = item.name
            if item.exhibit_id in retired:
                continue  # retired: nobody is to be called about it
            for alert in item.alerts:
                alert_id = exhibit_alert_id(item.exhibit_id, alert.code, item.visit_now)
                observed[alert_id] = Observed(
                    alert_id=alert_id,
                    code=alert.code.value,
                    severity=alert.severity,
                    message=alert.message,
                    exhibit_id=item.exhibit_id,
                    visit_id=item.visit_now
                    if alert.code is AlertCode.OFFLINE_DURING_VISIT
                    else None,
                )
        return _apply(
            connection,
            observed,
            in_scope=lambda state: state.exhibit_id is not None,
            hold=hold,
            targets=targets,
            now=now,
            names=names,
            new_episode=new_episode,
        )


def evaluate_one(
    engine: Engine,
    *,
    alert_id: str,
    observed: Observed | None,
    hold: Hold,
    targets: Targets,
    now: datetime,
    new_episode: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> list[Change]:
    """Evaluate one alert that is not an exhibit's (e.g. this worker's ingestion)."""
    with engine.begin() as connection:
        _lock(connection)
        return _apply(
            connection,
            {} if observed is None else {alert_id: observed},
            in_scope=lambda state: state.alert_id == alert_id,
            hold=hold,
            targets=targets,
            now=now,
            names={},
            new_episode=new_episode,
        )


def raised_alerts(connection: Connection) -> list[AlertState]:
    """Every alert raised and not resolved, oldest first."""
    return sorted(
        (state for state in _load(connection).values() if state.raised),
        key=lambda state: (state.raised_at or state.since, state.alert_id),
    )


def prune_events(engine: Engine, *, now: datetime) -> int:
    """Delete events (and their deliveries) older than :data:`EVENT_RETENTION`."""
    with engine.begin() as connection:
        done = connection.execute(
            delete(alert_events).where(alert_events.c.at < now - EVENT_RETENTION)
        )
        return done.rowcount or 0


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ALERT_LOCK})


def _apply(
    connection: Connection,
    observed: Mapping[str, Observed],
    *,
    in_scope: Callable[[AlertState], bool],
    hold: Hold,
    targets: Targets,
    now: datetime,
    names: Mapping[str, str],
    new_episode: Callable[[], str],
) -> list[Change]:
    previous = _load(connection)
    done = step(previous, observed, in_scope=in_scope, now=now, hold=hold, new_episode=new_episode)
    if done.forgotten:
        connection.execute(delete(alert_states).where(alert_states.c.alert_id.in_(done.forgotten)))
    changed = [row for alert_id, row in done.states.items() if previous.get(alert_id) != row]
    if changed:
        statement = insert(connection, alert_states)
        columns = [c.name for c in alert_states.columns if c.name != "alert_id"]
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["alert_id"],
                set_={name: statement.excluded[name] for name in columns},
            ),
            [_row(state) for state in changed],
        )
    for change in done.changes:
        state = change.state
        body = event_body(
            change,
            exhibit_name=None if state.exhibit_id is None else names.get(state.exhibit_id),
            public_url=targets.public_url,
        )
        connection.execute(
            alert_events.insert().values(
                event_id=change.event_id,
                alert_id=state.alert_id,
                status=change.status.value,
                severity=state.severity.value,
                at=change.at,
                body=body,
            )
        )
        enqueue(
            connection,
            event_id=change.event_id,
            alert_id=state.alert_id,
            targets=targets.for_severity(state.severity),
            now=now,
        )
    return done.changes


def _load(connection: Connection) -> dict[str, AlertState]:
    found = {}
    for row in connection.execute(select(alert_states)).mappings():
        values = dict(row)
        values["severity"] = Severity(values["severity"])
        found[row["alert_id"]] = AlertState(**values)
    return found


def _row(state: AlertState) -> dict[str, Any]:
    values = asdict(state)
    values["severity"] = state.severity.value
    return values
