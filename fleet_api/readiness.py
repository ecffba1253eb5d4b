"""Trip readiness: is each exhibit of a visit fit to leave the depot? Pure functions.

A technician with ten exhibits, a van and one hour checks, for every exhibit: is it on
and heard from (and not booked or checked out elsewhere), does its agent run the current
version, does it run the expected configuration, did a self-test pass recently, is its
clock synchronised, has it disk to spare, a good power supply and no backlog of
records. Each check is ``ready``, ``not_ready`` or ``unknown``; an exhibit (and the
visit) is ready only when every check is ``ready``. Unknown is not ready: what the fleet
cannot see, it does not vouch for.

Each result carries a stable ``reason`` code (for the pages, which say it in the
reader's language, and for programs) and an English ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fleet_api.alerts import Connectivity
from fleet_api.config_drift import ConfigState
from fleet_api.models.health import ExhibitHealth


class Check(StrEnum):
    """What is checked of each exhibit, in the order the page shows it."""

    STATE = "state"
    AGENT_VERSION = "agent_version"
    CONFIG = "config"
    SELF_TEST = "self_test"
    CLOCK = "clock"
    DISK = "disk"
    POWER = "power"
    BACKLOG = "backlog"


class Verdict(StrEnum):
    """One check's outcome."""

    READY = "ready"
    NOT_READY = "not_ready"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one exhibit."""

    check: Check
    verdict: Verdict
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Limits:
    """What counts as ready (from the settings)."""

    low_disk_bytes: int
    outbox_backlog: int
    self_test_max_age: timedelta


@dataclass(frozen=True, slots=True)
class SelfTestState:
    """The exhibit's latest self-test as readiness sees it."""

    passed: bool | None = None
    tested_at: datetime | None = None
    """When it was asked for (the fleet's clock), else when its result arrived."""
    waiting_since: datetime | None = None
    """A self-test was sent after the latest result and has not answered yet."""
    waiting_until: datetime | None = None
    """When that one's window closes at the latest (it may reach the exhibit until it
    expires), plus a little for the result to travel."""
    not_run: str | None = None
    """The exhibit reported it did not run the newest self-test: expired, refused_..."""


def exhibit_checks(
    health: ExhibitHealth,
    *,
    visit_id: int,
    self_test: SelfTestState,
    limits: Limits,
    now: datetime,
) -> list[CheckResult]:
    """Every check of one exhibit, in :class:`Check` order."""
    return [
        _state(health, visit_id),
        _agent(health),
        _config(health),
        _self_test(self_test, limits, now),
        *_heartbeat_checks(health, limits),
    ]


def is_ready(results: list[CheckResult]) -> bool:
    """Ready only when every check is."""
    return bool(results) and all(result.verdict is Verdict.READY for result in results)


def _result(check: Check, verdict: Verdict, reason: str, detail: str) -> CheckResult:
    return CheckResult(check, verdict, reason, detail)


def _state(health: ExhibitHealth, visit_id: int) -> CheckResult:
    check = Check.STATE
    if health.connectivity is Connectivity.UNKNOWN:
        return _result(check, Verdict.NOT_READY, "never_heard", "never heard from: switch it on")
    if health.connectivity is Connectivity.OFFLINE:
        return _result(check, Verdict.NOT_READY, "offline", "offline: switch it on, check Wi-Fi")
    if health.visit_now is not None and health.visit_now != visit_id:
        return _result(
            check,
            Verdict.NOT_READY,
            "in_another_visit",
            f"visit {health.visit_now} has it right now",
        )
    held = None if health.assignment is None else health.assignment.visit_id
    if held is not None and held != visit_id:
        return _result(
            check,
            Verdict.NOT_READY,
            "checked_out_elsewhere",
            f"still checked out to visit {held}: check that visit in first",
        )
    return _result(check, Verdict.READY, "online", "online")


def _agent(health: ExhibitHealth) -> CheckResult:
    check = Check.AGENT_VERSION
    if health.agent_version is None:
        return _result(check, Verdict.UNKNOWN, "not_reported", "its agent has not said")
    if health.agent_outdated:
        return _result(
            check, Verdict.NOT_READY, "outdated", f"{health.agent_version} is outdated: update it"
        )
    if health.agent_outdated is None:
        return _result(
            check,
            Verdict.UNKNOWN,
            "not_comparable",
            f"{health.agent_version} cannot be compared with a current version",
        )
    return _result(check, Verdict.READY, "current", health.agent_version)


def _config(health: ExhibitHealth) -> CheckResult:
    check = Check.CONFIG
    state = health.config
    if state is ConfigState.MATCHES:
        return _result(check, Verdict.READY, state.value, "the expected configuration")
    if state is ConfigState.DRIFTED:
        return _result(
            check,
            Verdict.NOT_READY,
            state.value,
            f"reports {health.config_hash}, expected {health.expected_config_hash}",
        )
    if state is ConfigState.INPUTS_DIFFER:
        return _result(
            check, Verdict.NOT_READY, state.value, "counts under other inputs than registered"
        )
    if state is ConfigState.REFUSED:
        return _result(
            check,
            Verdict.NOT_READY,
            state.value,
            f"refused version {health.expected_config_version}: {health.config_refused_reason}",
        )
    if state is ConfigState.WAITING:
        return _result(
            check,
            Verdict.NOT_READY,
            state.value,
            f"holds version {health.expected_config_version} until its visit ends",
        )
    if state is ConfigState.PENDING:
        return _result(
            check,
            Verdict.UNKNOWN,
            state.value,
            f"version {health.expected_config_version} was sent; not reported yet",
        )
    if state is ConfigState.UNKNOWN_VERSION:
        return _result(
            check,
            Verdict.UNKNOWN,
            state.value,
            f"runs version {health.config_version}, which this fleet has no record of",
        )
    if state is ConfigState.NOT_EXPECTED:
        return _result(
            check,
            Verdict.UNKNOWN,
            state.value,
            f"reports {health.config_hash}; no configuration is expected of it yet",
        )
    return _result(check, Verdict.UNKNOWN, state.value, "its agent has not reported it")


def _self_test(state: SelfTestState, limits: Limits, now: datetime) -> CheckResult:
    check = Check.SELF_TEST
    if state.not_run is not None:
        return _result(
            check, Verdict.NOT_READY, "not_run", f"the exhibit did not run it ({state.not_run})"
        )
    if state.waiting_since is not None:
        if state.waiting_until is None or now <= state.waiting_until:
            return _result(check, Verdict.UNKNOWN, "running", "running: press every input")
        return _result(
            check, Verdict.NOT_READY, "no_answer", "a self-test was sent and never answered"
        )
    if state.passed is None or state.tested_at is None:
        return _result(check, Verdict.NOT_READY, "never", "never self-tested")
    if not state.passed:
        return _result(check, Verdict.NOT_READY, "failed", "the latest self-test failed")
    if now - state.tested_at > limits.self_test_max_age:
        return _result(check, Verdict.NOT_READY, "stale", "passed, but too long ago")
    return _result(check, Verdict.READY, "passed", "passed")


def _heartbeat_checks(health: ExhibitHealth, limits: Limits) -> list[CheckResult]:
    beat = health.heartbeat
    if beat is None:
        return [
            _result(check, Verdict.UNKNOWN, "no_heartbeat", "no heartbeat yet")
            for check in (Check.CLOCK, Check.DISK, Check.POWER, Check.BACKLOG)
        ]
    clock = (
        _result(Check.CLOCK, Verdict.READY, "synced", "synchronised")
        if beat.clock_synced
        else _result(Check.CLOCK, Verdict.NOT_READY, "unsynced", "not synchronised (NTP?)")
    )
    if beat.disk_free_bytes is None:
        disk = _result(Check.DISK, Verdict.UNKNOWN, "not_reported", "not reported")
    elif beat.disk_free_bytes < limits.low_disk_bytes:
        disk = _result(Check.DISK, Verdict.NOT_READY, "low", f"{beat.disk_free_bytes} bytes free")
    else:
        disk = _result(Check.DISK, Verdict.READY, "enough", f"{beat.disk_free_bytes} bytes free")
    if beat.under_voltage:
        power = _result(Check.POWER, Verdict.NOT_READY, "under_voltage", "under-voltage")
    elif beat.throttled:
        power = _result(Check.POWER, Verdict.NOT_READY, "throttled", "throttled")
    elif beat.under_voltage is None or beat.throttled is None:
        power = _result(
            Check.POWER, Verdict.UNKNOWN, "not_reported", "not reported (not a Raspberry Pi?)"
        )
    else:
        power = _result(Check.POWER, Verdict.READY, "fine", "fine")
    if beat.outbox_depth > limits.outbox_backlog:
        backlog = _result(
            Check.BACKLOG,
            Verdict.NOT_READY,
            "backlog",
            f"{beat.outbox_depth} records waiting to be sent",
        )
    else:
        backlog = _result(
            Check.BACKLOG, Verdict.READY, "drained", f"{beat.outbox_depth} records waiting"
        )
    return [clock, disk, power, backlog]
