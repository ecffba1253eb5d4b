"""When alerts are raised and resolved: identity, hold-down and flapping, as properties over
generated histories (a condition coming and going at any pace)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_api.alert_changes import (
    AlertState,
    AlertStatus,
    Change,
    FleetAlertCode,
    Hold,
    Observed,
    exhibit_alert_id,
    fleet_alert_id,
    step,
)
from fleet_api.alerts import AlertCode, Severity

T0 = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)
ALERT = "ex-1:under_voltage"
SEEN = Observed(ALERT, "under_voltage", Severity.WARNING, "under-voltage", exhibit_id="ex-1")


def run(
    history: list[tuple[float, bool]], hold: Hold
) -> tuple[list[tuple[datetime, bool]], list[Change], dict[str, AlertState]]:
    """Feed ``(seconds since the last evaluation, condition holds)`` to step()."""
    episodes = (f"episode{n}" for n in itertools.count())
    states: dict[str, AlertState] = {}
    now = T0
    timeline: list[tuple[datetime, bool]] = []
    changes: list[Change] = []
    for gap, holds in history:
        now += timedelta(seconds=gap)
        timeline.append((now, holds))
        done = step(
            states,
            {ALERT: SEEN} if holds else {},
            in_scope=lambda state: state.exhibit_id is not None,
            now=now,
            hold=hold,
            new_episode=lambda: next(episodes),
        )
        states = done.states
        changes += done.changes
    return timeline, changes, states


def run_start(timeline: list[tuple[datetime, bool]], at: datetime) -> datetime:
    """When the run of equal observations that ends at ``at`` began."""
    upto = [(t, h) for t, h in timeline if t <= at]
    value = upto[-1][1]
    start = upto[-1][0]
    for t, h in reversed(upto):
        if h != value:
            break
        start = t
    return start


histories = st.lists(
    st.tuples(st.floats(min_value=1, max_value=900), st.booleans()), min_size=1, max_size=60
)
holds = st.builds(
    Hold,
    raise_after=st.integers(0, 600).map(lambda s: timedelta(seconds=s)),
    resolve_after=st.integers(0, 1800).map(lambda s: timedelta(seconds=s)),
)


@settings(max_examples=300, deadline=None)
@given(history=histories, hold=holds)
def test_changes_alternate_and_respect_the_hold_down(
    history: list[tuple[float, bool]], hold: Hold
) -> None:
    timeline, changes, states = run(history, hold)
    statuses = [change.status for change in changes]
    assert statuses == [
        AlertStatus.RAISED if n % 2 == 0 else AlertStatus.RESOLVED for n in range(len(statuses))
    ]
    holding = dict(timeline)
    for change in changes:
        if change.status is AlertStatus.RAISED:
            since = change.state.since
            assert holding[change.at] is True
            assert holding[since] is True
            assert change.at - since >= hold.raise_after
            # No quiet spell of resolve_after since the problem appeared: one episode.
            for t, h in timeline:
                if since < t < change.at and not h:
                    assert t - run_start(timeline, t) < hold.resolve_after
        else:
            assert holding[change.at] is False
            assert change.at - run_start(timeline, change.at) >= hold.resolve_after
    # Each episode has its own id; its two events share it.
    raised = [c.state.episode_id for c in changes if c.status is AlertStatus.RAISED]
    assert len(set(raised)) == len(raised)
    assert len({c.event_id for c in changes}) == len(changes)
    # No storm: a second raise needs a quiet spell of resolve_after in between.
    quiet_spells = 0
    for (t, h), nxt in itertools.zip_longest(timeline, timeline[1:]):
        if not h and (nxt is None or nxt[1]) and t - run_start(timeline, t) >= hold.resolve_after:
            quiet_spells += 1
    assert len(raised) <= quiet_spells + 1
    # The end state says what was told last.
    assert (ALERT in states and states[ALERT].raised) == (statuses[-1:] == [AlertStatus.RAISED])


def test_flapping_every_minute_for_an_hour_rings_once_then_resolves_once() -> None:
    hold = Hold(raise_after=timedelta(minutes=2), resolve_after=timedelta(minutes=10))
    flapping = [(60.0, n % 3 != 2) for n in range(60)]  # two minutes on, one off
    quiet = [(60.0, False)] * 12
    _, changes, states = run(flapping + quiet, hold)
    assert [c.status for c in changes] == [AlertStatus.RAISED, AlertStatus.RESOLVED]
    # First seen at minute 1, still there (after a gap) at minute 4: raised then.
    assert changes[0].at == T0 + timedelta(minutes=4)
    assert changes[0].state.since == T0 + timedelta(minutes=1)
    # Last seen at minute 59; quiet from minute 60; resolved ten minutes later.
    assert changes[1].at == T0 + timedelta(minutes=70)
    assert ALERT not in states  # resolved alerts are forgotten (their events remain)


def test_a_blip_shorter_than_the_raise_hold_tells_nobody() -> None:
    hold = Hold(raise_after=timedelta(minutes=2), resolve_after=timedelta(minutes=10))
    _, changes, states = run([(30.0, True), (30.0, True), (30.0, False), (600.0, False)], hold)
    assert changes == []
    assert states == {}
    # Two blips ten minutes apart are two blips, not one problem of ten minutes.
    _, changes, _ = run([(30.0, True), (30.0, False), (600.0, False), (30.0, True)], hold)
    assert changes == []
    # The same two, three minutes apart, are one problem that keeps coming back.
    _, changes, _ = run([(30.0, True), (30.0, False), (150.0, True)], hold)
    assert [c.status for c in changes] == [AlertStatus.RAISED]


def test_an_evaluation_of_exhibits_leaves_fleet_alerts_alone() -> None:
    fleet = fleet_alert_id(FleetAlertCode.INGESTION_DOWN, "fleet-ingest")
    hold = Hold(timedelta(0), timedelta(0))
    first = step(
        {},
        {fleet: Observed(fleet, "ingestion_down", Severity.WARNING, "down")},
        in_scope=lambda state: state.alert_id == fleet,
        now=T0,
        hold=hold,
        new_episode=lambda: "e1",
    )
    assert [c.status for c in first.changes] == [AlertStatus.RAISED]
    exhibits = step(
        first.states,
        {},
        in_scope=lambda state: state.exhibit_id is not None,
        now=T0 + timedelta(minutes=5),
        hold=hold,
        new_episode=lambda: "e2",
    )
    assert exhibits.changes == []
    assert exhibits.states[fleet].raised


def test_alert_ids_are_stable_and_name_the_visit_where_it_matters() -> None:
    assert exhibit_alert_id("ex-1", AlertCode.OFFLINE_DURING_VISIT, 12) == (
        "ex-1:offline_during_visit:visit-12"
    )
    assert exhibit_alert_id("ex-1", AlertCode.UNDER_VOLTAGE, 12) == "ex-1:under_voltage"
    assert fleet_alert_id(FleetAlertCode.INGESTION_DOWN, "w1") == "fleet:ingestion_down:w1"
