"""Trip readiness of a visit (:mod:`fleet_api.readiness`) from fleet health and self-tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleet_api.alerts import Thresholds
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.models.readiness import ExhibitReadiness, ReadinessCheck, VisitReadiness
from fleet_api.readiness import Limits, SelfTestState, exhibit_checks, is_ready
from fleet_api.store.commands import latest_self_test_commands
from fleet_api.store.fleet_health import fleet_health
from fleet_api.store.visits import get_visit

RESULT_GRACE = timedelta(minutes=2)
"""After a self-test's window closes, how long its result may take to arrive."""


def visit_readiness(
    session: Session,
    *,
    visit_id: int,
    thresholds: Thresholds,
    limits: Limits,
    now: datetime,
) -> VisitReadiness:
    """Every exhibit of the visit, checked; UnknownVisit if there is no such visit."""
    visit = get_visit(session, visit_id=visit_id, now=now)
    health = fleet_health(session, thresholds=thresholds, now=now)
    mine = [item for item in health.exhibits if item.exhibit_id in set(visit.exhibit_ids)]
    waiting = latest_self_test_commands(session.connection(), visit.exhibit_ids)
    exhibits = []
    for item in mine:
        command = waiting.get(item.exhibit_id)
        state = self_test_state(item.self_test, command)
        checks = exhibit_checks(item, visit_id=visit.id, self_test=state, limits=limits, now=now)
        exhibits.append(
            ExhibitReadiness(
                exhibit_id=item.exhibit_id,
                name=item.name,
                ready=is_ready(checks),
                connectivity=item.connectivity,
                visit_now=item.visit_now,
                assigned_visit_id=None if item.assignment is None else item.assignment.visit_id,
                agent_version=item.agent_version,
                agent_outdated=item.agent_outdated,
                config=item.config,
                config_hash=item.config_hash,
                expected_config_hash=item.expected_config_hash,
                config_version=item.config_version,
                expected_config_version=item.expected_config_version,
                config_refused_reason=item.config_refused_reason,
                self_test=item.self_test,
                self_test_age_s=None
                if state.tested_at is None
                else max((now - state.tested_at).total_seconds(), 0.0),
                self_test_command=command
                if state.waiting_since is not None or state.not_run is not None
                else None,
                heartbeat=item.heartbeat,
                checks=[
                    ReadinessCheck(
                        check=c.check, verdict=c.verdict, reason=c.reason, detail=c.detail
                    )
                    for c in checks
                ],
            )
        )
    ready = sum(1 for exhibit in exhibits if exhibit.ready)
    return VisitReadiness(
        visit_id=visit.id,
        starts_at=visit.starts_at,
        checked_at=now,
        ready=bool(exhibits) and ready == len(exhibits),
        exhibits_ready=ready,
        current_agent_version=health.current_agent_version,
        current_agent_version_basis=health.current_agent_version_basis,
        self_test_max_age_s=limits.self_test_max_age.total_seconds(),
        exhibits=exhibits,
    )


def self_test_state(result: SelfTestPublic | None, command: CommandPublic | None) -> SelfTestState:
    """The latest result and the latest self-test command, as readiness reads them.

    A result's age counts from when the fleet asked for it (its own clock), or, for a
    self-test started on the Pi itself, from when the result arrived. A command newer
    than the latest result that has no result of its own is still running, until its
    window (plus :data:`RESULT_GRACE`) has passed after it expires at the latest; unless
    the exhibit reported it did not run it (expired, refused in a visit, ...).
    """
    tested_at = None
    if result is not None:
        asked = command.issued_at if command and command.command_id == result.command_id else None
        tested_at = min(asked or result.received_at, result.received_at)
    newer = command is not None and (tested_at is None or command.issued_at > tested_at)
    if command is None or not newer or command.result is not None:
        return SelfTestState(passed=None if result is None else result.passed, tested_at=tested_at)
    if command.outcome is not None and command.outcome != "ran":
        return SelfTestState(
            passed=None if result is None else result.passed,
            tested_at=tested_at,
            not_run=command.outcome,
        )
    # It may reach the exhibit until it expires, then runs its window.
    latest_start = command.expires_at or command.issued_at
    return SelfTestState(
        passed=None if result is None else result.passed,
        tested_at=tested_at,
        waiting_since=command.issued_at,
        waiting_until=latest_start + timedelta(seconds=command.seconds) + RESULT_GRACE,
    )
