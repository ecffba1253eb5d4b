"""Fleet health for technicians: whether an exhibit is online, and what needs a look.

Pure functions of what the fleet last heard from an exhibit (:class:`HealthFacts`), the
time, and the thresholds from the settings (``FLEET_HEALTH_*``). An exhibit is offline
when its retained status says so (the broker published its last will) or when nothing
was heard from it for longer than the grace period (the will may not have come yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fleet_api.config_drift import ConfigState


class Severity(StrEnum):
    """How soon someone should look."""

    WARNING = "warning"
    INFO = "info"


class AlertCode(StrEnum):
    """What an alert is about; stable, for filters and translations."""

    OFFLINE_DURING_VISIT = "offline_during_visit"
    OFFLINE = "offline"
    UNDER_VOLTAGE = "under_voltage"
    THROTTLED = "throttled"
    LOW_DISK = "low_disk"
    UNSYNCED_CLOCK = "unsynced_clock"
    DATA_GAPS = "data_gaps"
    OUTBOX_BACKLOG = "outbox_backlog"
    SELF_TEST_FAILED = "self_test_failed"
    CONFIG_DRIFT = "config_drift"
    AGENT_OUTDATED = "agent_outdated"
    SEQS_RESTARTED = "seqs_restarted"
    SEQ_CONFLICTS = "seq_conflicts"
    SUBSCRIPTION_REFUSED = "subscription_refused"
    UNPLACED_RECORDS = "unplaced_records"


class Connectivity(StrEnum):
    """Whether the exhibit is reachable now."""

    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"
    """Never heard from."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits from the settings."""

    offline_grace: timedelta
    low_disk_bytes: int
    outbox_backlog: int
    current_agent_version: str | None = None
    """``FLEET_AGENT_CURRENT_VERSION``; None: the newest version in the fleet."""


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """What the fleet last heard from one exhibit (None: never said)."""

    online: bool | None = None
    last_seen_at: datetime | None = None
    visit_now: int | None = None
    """The visit scheduled right now that took the exhibit."""
    clock_synced: bool | None = None
    under_voltage: bool | None = None
    throttled: bool | None = None
    disk_free_bytes: int | None = None
    outbox_depth: int | None = None
    missing_records: int = 0
    self_test_passed: bool | None = None
    config: ConfigState | None = None
    agent_outdated: bool | None = None
    conflicts: int = 0
    """Records that reused a stored seq with another body (kept in quarantine)."""
    seq_restarts: int = 0
    """Of them, those from another boot than the stored record: its seqs started again."""
    refused_subscriptions: tuple[str, ...] = ()
    """Its own topic filters the broker refused to let it subscribe to."""
    unplaced_records: int = 0
    """Records of never-synced boots that no visit could be chosen for (fleet_api.bounds)."""
    unplaced_interactions: int = 0
    unplaced_visits: tuple[int, ...] = ()
    """Their candidate visits."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing about an exhibit that needs a look."""

    code: AlertCode
    severity: Severity
    message: str


def connectivity(facts: HealthFacts, *, now: datetime, thresholds: Thresholds) -> Connectivity:
    """Online, offline, or unknown (never heard from)."""
    if facts.last_seen_at is None and facts.online is None:
        return Connectivity.UNKNOWN
    if facts.online is False:
        return Connectivity.OFFLINE
    if facts.last_seen_at is None or now - facts.last_seen_at > thresholds.offline_grace:
        return Connectivity.OFFLINE
    return Connectivity.ONLINE


def alerts(facts: HealthFacts, *, now: datetime, thresholds: Thresholds) -> list[Alert]:
    """Every alert that applies, the most urgent first."""
    found: list[Alert] = []
    state = connectivity(facts, now=now, thresholds=thresholds)
    since = "" if facts.last_seen_at is None else f" (last heard {_iso(facts.last_seen_at)})"
    if state is not Connectivity.ONLINE and facts.visit_now is not None:
        found.append(
            Alert(
                AlertCode.OFFLINE_DURING_VISIT,
                Severity.WARNING,
                f"offline during visit {facts.visit_now}{since}: it keeps counting, and its "
                "records arrive when it reconnects",
            )
        )
    elif state is Connectivity.OFFLINE:
        found.append(Alert(AlertCode.OFFLINE, Severity.INFO, f"offline{since}"))
    if facts.under_voltage:
        found.append(
            Alert(
                AlertCode.UNDER_VOLTAGE,
                Severity.WARNING,
                "under-voltage reported: check the power supply and cable (it risks SD card "
                "corruption)",
            )
        )
    if facts.throttled:
        found.append(
            Alert(AlertCode.THROTTLED, Severity.WARNING, "the CPU is throttled (heat or power)")
        )
    if facts.disk_free_bytes is not None and facts.disk_free_bytes < thresholds.low_disk_bytes:
        found.append(
            Alert(
                AlertCode.LOW_DISK,
                Severity.WARNING,
                f"{facts.disk_free_bytes} bytes of disk free, below {thresholds.low_disk_bytes}",
            )
        )
    if facts.missing_records > 0:
        found.append(
            Alert(
                AlertCode.DATA_GAPS,
                Severity.WARNING,
                f"{facts.missing_records} record(s) missing below the highest seq received",
            )
        )
    if facts.self_test_passed is False:
        found.append(
            Alert(
                AlertCode.SELF_TEST_FAILED,
                Severity.WARNING,
                "the latest self-test did not reach every input",
            )
        )
    if facts.config is ConfigState.DRIFTED:
        found.append(
            Alert(
                AlertCode.CONFIG_DRIFT,
                Severity.WARNING,
                "it reports another config hash than the one expected: its inputs or rules "
                "are not what the fleet expects",
            )
        )
    elif facts.config is ConfigState.REFUSED:
        found.append(
            Alert(
                AlertCode.CONFIG_DRIFT,
                Severity.WARNING,
                "it refused the newest configuration the fleet pushed and runs the one before "
                "(its reason: GET /exhibits/{id}/config)",
            )
        )
    elif facts.config is ConfigState.UNKNOWN_VERSION:
        found.append(
            Alert(
                AlertCode.CONFIG_DRIFT,
                Severity.WARNING,
                "it runs a version of the fleet's configuration this fleet has no record of "
                "(restored from an older backup?): push its configuration again",
            )
        )
    elif facts.config is ConfigState.INPUTS_DIFFER:
        found.append(
            Alert(
                AlertCode.CONFIG_DRIFT,
                Severity.WARNING,
                "it counts under other input names than those registered",
            )
        )
    if facts.refused_subscriptions:
        found.append(
            Alert(
                AlertCode.SUBSCRIPTION_REFUSED,
                Severity.WARNING,
                f"the broker refused its subscription to {', '.join(facts.refused_subscriptions)}: "
                "nothing sent there reaches it (assignments, commands); its broker account's "
                "role must allow it",
            )
        )
    if facts.seq_restarts:
        found.append(
            Alert(
                AlertCode.SEQS_RESTARTED,
                Severity.WARNING,
                f"its seqs started again ({facts.seq_restarts} record(s) reuse seqs stored from "
                "another boot: a reflashed SD card or a restored backup?); they are kept in "
                "the quarantine as conflict, not counted",
            )
        )
    elif facts.conflicts:
        found.append(
            Alert(
                AlertCode.SEQ_CONFLICTS,
                Severity.WARNING,
                f"{facts.conflicts} record(s) reused a stored seq with another body; the stored "
                "ones are counted, the others kept in the quarantine as conflict",
            )
        )
    if facts.unplaced_records:
        visits = ", ".join(str(v) for v in facts.unplaced_visits) or "none"
        found.append(
            Alert(
                AlertCode.UNPLACED_RECORDS,
                Severity.WARNING,
                f"{facts.unplaced_records} record(s) ({facts.unplaced_interactions} "
                "interactions) could not be placed in a visit: its clock was never synced in "
                f"their boot; candidate visits: {visits}. They are counted nowhere until staff "
                "assign them (GET /unplaced)",
            )
        )
    if facts.clock_synced is False:
        found.append(
            Alert(
                AlertCode.UNSYNCED_CLOCK,
                Severity.INFO,
                "its clock is not synced: its times are corrected from a synced moment of "
                "the same boot when there is one",
            )
        )
    if facts.outbox_depth is not None and facts.outbox_depth > thresholds.outbox_backlog:
        found.append(
            Alert(
                AlertCode.OUTBOX_BACKLOG,
                Severity.INFO,
                f"{facts.outbox_depth} records waiting in its outbox",
            )
        )
    if facts.agent_outdated:
        found.append(
            Alert(
                AlertCode.AGENT_OUTDATED, Severity.INFO, "its agent is older than the current one"
            )
        )
    return found


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
