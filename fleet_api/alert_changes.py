"""When an alert is *raised* and *resolved*: the changes a person is told about. Pure.

Fleet health computes, each time it is asked, which alerts apply now
(:func:`fleet_api.alerts.alerts`). A person must hear about changes, not states, and
not every flicker of one: a technician's phone at 6 am rings once for an exhibit whose
Wi-Fi comes and goes, not forty times.

- **Identity.** An alert is ``exhibit:code``, plus ``:visit-N`` where the visit is part of
  what it means (offline *during visit N*); fleet-wide ones are ``fleet:code:worker``. The
  same condition is the same alert across restarts and evaluations.
- **Hold-down.** An alert is raised once its problem has been around for ``raise_after``
  (on and off: a condition that comes and goes, like under-voltage under load, counts
  from its first appearance), and resolved once it has been gone for ``resolve_after``.
  A gap shorter than ``resolve_after`` neither ends a raised alert nor restarts the
  clock of one not raised yet. So a flapping alert is one raise, then one resolve once it
  has been quiet for ``resolve_after``; a single blip shorter than ``raise_after`` tells
  nobody.
- **Episodes.** Each raise starts an episode with a new id; its raise and its resolve
  are the two events of the episode (``event_id`` = episode id + status). Receivers
  deduplicate on the event id; the alert id says which alert an event belongs to.

:func:`step` takes the stored states and what is observed now and returns the new
states and the changes; :mod:`fleet_api.store.alert_states` keeps them in the database,
so a restart picks up exactly where the last process stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fleet_api.alerts import AlertCode, Severity

FLEET = "fleet"
"""The prefix of alerts about the fleet itself rather than one exhibit."""


class AlertStatus(StrEnum):
    """What a change says."""

    RAISED = "raised"
    RESOLVED = "resolved"


class FleetAlertCode(StrEnum):
    """Alerts about the fleet service itself."""

    INGESTION_DOWN = "ingestion_down"


def exhibit_alert_id(exhibit_id: str, code: AlertCode, visit_id: int | None) -> str:
    """``exhibit:code``, with the visit where the alert is about one visit."""
    if code is AlertCode.OFFLINE_DURING_VISIT and visit_id is not None:
        return f"{exhibit_id}:{code.value}:visit-{visit_id}"
    return f"{exhibit_id}:{code.value}"


def fleet_alert_id(code: FleetAlertCode, worker: str) -> str:
    """``fleet:code:worker`` (each ingest worker has its own connection to lose)."""
    return f"{FLEET}:{code.value}:{worker}"


@dataclass(frozen=True, slots=True)
class Observed:
    """An alert that applies now."""

    alert_id: str
    code: str
    severity: Severity
    message: str
    exhibit_id: str | None = None
    visit_id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """What is kept of one alert between evaluations."""

    alert_id: str
    code: str
    severity: Severity
    message: str
    exhibit_id: str | None
    visit_id: int | None
    active: bool
    """Whether the condition held at the last evaluation."""
    changed_at: datetime
    """When ``active`` last changed."""
    since: datetime
    """When the problem appeared (the first time of this episode, gaps included)."""
    raised: bool = False
    """Raised and not resolved since."""
    episode_id: str | None = None
    raised_at: datetime | None = None
    """When the current (or last) episode was raised."""
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """An alert raised or resolved: what a person is told."""

    status: AlertStatus
    state: AlertState
    at: datetime

    @property
    def event_id(self) -> str:
        """Unique per episode and status: what receivers deduplicate on."""
        return f"{self.state.episode_id}-{self.status.value}"


@dataclass(frozen=True, slots=True)
class Hold:
    """How long a condition must hold, or be gone, before anyone is told."""

    raise_after: timedelta
    resolve_after: timedelta


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one evaluation."""

    states: dict[str, AlertState]
    """Every state to keep (changed or not)."""
    forgotten: set[str]
    """Alerts to forget: resolved, or gone for ``resolve_after`` before they were raised."""
    changes: list[Change]


def step(
    previous: Mapping[str, AlertState],
    observed: Mapping[str, Observed],
    *,
    in_scope: Callable[[AlertState], bool],
    now: datetime,
    hold: Hold,
    new_episode: Callable[[], str],
) -> Step:
    """Fold one evaluation into the states.

    Only the previous states ``in_scope`` can be cleared by their absence from
    ``observed``: an evaluation of exhibit alerts says nothing about fleet alerts.
    """
    states: dict[str, AlertState] = {}
    forgotten: set[str] = set()
    changes: list[Change] = []
    for alert_id in sorted({*observed, *(k for k, v in previous.items() if in_scope(v))}):
        seen = observed.get(alert_id)
        state = previous.get(alert_id)
        if seen is not None:
            state, change = _present(state, seen, now, hold, new_episode)
        elif state is not None:
            state, change = _absent(state, now, hold)
        else:  # pragma: no cover - the id came from one of the two
            continue
        if change is not None:
            changes.append(change)
        if not state.active and now - state.changed_at >= hold.resolve_after:
            forgotten.add(alert_id)  # gone long enough: resolved, or never worth a word
        else:
            states[alert_id] = state
    for alert_id, state in previous.items():
        if alert_id not in states and alert_id not in forgotten:
            states[alert_id] = state
    return Step(states, forgotten, changes)


def _present(
    state: AlertState | None,
    seen: Observed,
    now: datetime,
    hold: Hold,
    new_episode: Callable[[], str],
) -> tuple[AlertState, Change | None]:
    if state is None:
        state = AlertState(
            alert_id=seen.alert_id,
            code=seen.code,
            severity=seen.severity,
            message=seen.message,
            exhibit_id=seen.exhibit_id,
            visit_id=seen.visit_id,
            active=True,
            changed_at=now,
            since=now,
        )
    elif not state.active:
        # Back within resolve_after (else it was forgotten): the same episode goes on.
        state = dataclasses.replace(state, active=True, changed_at=now)
    if not state.raised:
        # Not told yet: keep what it says now, so the raise tells the latest.
        state = dataclasses.replace(state, severity=seen.severity, message=seen.message)
        if now - state.since >= hold.raise_after:
            state = dataclasses.replace(
                state, raised=True, episode_id=new_episode(), raised_at=now, resolved_at=None
            )
            return state, Change(AlertStatus.RAISED, state, now)
    return state, None


def _absent(state: AlertState, now: datetime, hold: Hold) -> tuple[AlertState, Change | None]:
    if state.active:
        state = dataclasses.replace(state, active=False, changed_at=now)
    if state.raised and now - state.changed_at >= hold.resolve_after:
        state = dataclasses.replace(state, raised=False, resolved_at=now)
        return state, Change(AlertStatus.RESOLVED, state, now)
    return state, None
