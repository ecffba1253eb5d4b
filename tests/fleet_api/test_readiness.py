"""Trip readiness: each check as a pure function, and how old a self-test is.

``GET /visits/{id}/readiness`` and the self-test button: test_readiness_api.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet_api.alerts import Connectivity
from fleet_api.config_drift import ConfigState
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.models.health import AssignmentPublic, ExhibitHealth, HeartbeatPublic
from fleet_api.readiness import Check, Limits, SelfTestState, Verdict, exhibit_checks, is_ready
from fleet_api.store.readiness import RESULT_GRACE, self_test_state

NOW = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)  # 7 am in Riga


LIMITS = Limits(low_disk_bytes=1000, outbox_backlog=100, self_test_max_age=timedelta(hours=24))


PASSED = SelfTestState(passed=True, tested_at=NOW - timedelta(minutes=10))


def health(**change: Any) -> ExhibitHealth:
    """An exhibit that is ready in every respect, with ``change`` applied."""
    heartbeat = {
        "at": NOW,
        "received_at": NOW - timedelta(seconds=30),
        "boot_id": "b",
        "uptime_s": 100.0,
        "clock_synced": True,
        "outbox_depth": 0,
        "cpu_temp_c": 45.0,
        "under_voltage": False,
        "throttled": False,
        "disk_free_bytes": 10_000,
        "mem_available_bytes": None,
        "wifi_signal_dbm": None,
    }
    heartbeat.update(change.pop("heartbeat", {}))
    values: dict[str, Any] = {
        "exhibit_id": "ex-1",
        "name": "Pendulum",
        "connectivity": Connectivity.ONLINE,
        "online": True,
        "status_at": NOW,
        "last_seen_at": NOW,
        "boot_id": "b",
        "agent_version": "0.2.0",
        "agent_outdated": False,
        "config_hash": "abc",
        "expected_config_hash": "abc",
        "reported_inputs": ["button"],
        "config": ConfigState.MATCHES,
        "heartbeat": HeartbeatPublic(**heartbeat),
        "assignment": None,
        "visit_now": None,
        "max_seq": None,
        "missing_records": 0,
        "self_test": None,
        "alerts": [],
    }
    values.update(change)
    return ExhibitHealth(**values)


def verdicts(item: ExhibitHealth, self_test: SelfTestState = PASSED) -> dict[Check, str]:
    results = exhibit_checks(item, visit_id=7, self_test=self_test, limits=LIMITS, now=NOW)
    assert [r.check for r in results] == list(Check)
    return {r.check: f"{r.verdict.value}:{r.reason}" for r in results}


def test_an_exhibit_ready_in_every_respect_is_ready() -> None:
    results = exhibit_checks(health(), visit_id=7, self_test=PASSED, limits=LIMITS, now=NOW)
    assert all(r.verdict is Verdict.READY for r in results)
    assert is_ready(results)
    assert not is_ready([])


@pytest.mark.parametrize(
    ("change", "check", "expected"),
    [
        ({"connectivity": Connectivity.OFFLINE}, Check.STATE, "not_ready:offline"),
        ({"connectivity": Connectivity.UNKNOWN}, Check.STATE, "not_ready:never_heard"),
        ({"visit_now": 6}, Check.STATE, "not_ready:in_another_visit"),
        ({"visit_now": 7}, Check.STATE, "ready:online"),
        (
            {"assignment": AssignmentPublic(visit_id=5, issued_at=NOW)},
            Check.STATE,
            "not_ready:checked_out_elsewhere",
        ),
        ({"assignment": AssignmentPublic(visit_id=7, issued_at=NOW)}, Check.STATE, "ready:online"),
        (
            {"assignment": AssignmentPublic(visit_id=None, issued_at=NOW)},
            Check.STATE,
            "ready:online",
        ),
        ({"agent_outdated": True}, Check.AGENT_VERSION, "not_ready:outdated"),
        ({"agent_outdated": None}, Check.AGENT_VERSION, "unknown:not_comparable"),
        (
            {"agent_version": None, "agent_outdated": None},
            Check.AGENT_VERSION,
            "unknown:not_reported",
        ),
        ({"config": ConfigState.DRIFTED}, Check.CONFIG, "not_ready:drifted"),
        ({"config": ConfigState.INPUTS_DIFFER}, Check.CONFIG, "not_ready:inputs_differ"),
        ({"config": ConfigState.NOT_EXPECTED}, Check.CONFIG, "unknown:not_expected"),
        ({"config": ConfigState.NOT_REPORTED}, Check.CONFIG, "unknown:not_reported"),
        ({"heartbeat": {"clock_synced": False}}, Check.CLOCK, "not_ready:unsynced"),
        ({"heartbeat": {"disk_free_bytes": 999}}, Check.DISK, "not_ready:low"),
        ({"heartbeat": {"disk_free_bytes": 1000}}, Check.DISK, "ready:enough"),
        ({"heartbeat": {"disk_free_bytes": None}}, Check.DISK, "unknown:not_reported"),
        ({"heartbeat": {"under_voltage": True}}, Check.POWER, "not_ready:under_voltage"),
        ({"heartbeat": {"throttled": True}}, Check.POWER, "not_ready:throttled"),
        ({"heartbeat": {"under_voltage": None}}, Check.POWER, "unknown:not_reported"),
        (
            {"heartbeat": {"under_voltage": None, "throttled": True}},
            Check.POWER,
            "not_ready:throttled",
        ),
        ({"heartbeat": {"outbox_depth": 101}}, Check.BACKLOG, "not_ready:backlog"),
        ({"heartbeat": {"outbox_depth": 100}}, Check.BACKLOG, "ready:drained"),
        ({"heartbeat": None}, Check.POWER, "unknown:no_heartbeat"),
    ],
)  # fmt: skip
def test_each_check(change: dict[str, Any], check: Check, expected: str) -> None:
    if change.get("heartbeat", {}) is None:
        found = verdicts(health(heartbeat={}).model_copy(update={"heartbeat": None}))
    else:
        found = verdicts(health(**change))
    assert found[check] == expected
    others = {c: v for c, v in found.items() if c is not check}
    if change.get("heartbeat", {}) is not None:
        # Everything else stays ready: one fault, one red cell.
        assert all(v.startswith("ready:") for v in others.values()), others


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (PASSED, "ready:passed"),
        (SelfTestState(passed=True, tested_at=NOW - timedelta(hours=25)), "not_ready:stale"),
        (SelfTestState(passed=False, tested_at=NOW - timedelta(minutes=1)), "not_ready:failed"),
        (SelfTestState(), "not_ready:never"),
        (
            SelfTestState(waiting_since=NOW - timedelta(minutes=1), waiting_until=NOW),
            "unknown:running",
        ),
        (
            SelfTestState(
                passed=True,
                tested_at=NOW - timedelta(days=2),
                waiting_since=NOW - timedelta(hours=1),
                waiting_until=NOW - timedelta(minutes=50),
            ),
            "not_ready:no_answer",
        ),
        (SelfTestState(not_run="refused_in_visit"), "not_ready:not_run"),
    ],
)
def test_the_self_test_check(state: SelfTestState, expected: str) -> None:
    assert verdicts(health(), state)[Check.SELF_TEST] == expected


def command(
    command_id: str, issued_at: datetime, result: SelfTestPublic | None = None
) -> CommandPublic:
    return CommandPublic(
        command_id=command_id,
        exhibit_id="ex-1",
        action="self_test",
        seconds=300,
        issued_at=issued_at,
        result=result,
    )


def result(command_id: str, received_at: datetime, passed: bool = True) -> SelfTestPublic:
    return SelfTestPublic(
        command_id=command_id,
        at=datetime(2020, 1, 1, tzinfo=UTC),  # a Pi clock that is years off changes nothing
        received_at=received_at,
        seen={"button": passed},
        passed=passed,
    )


def test_a_self_test_is_as_old_as_the_request_that_asked_for_it() -> None:
    asked = NOW - timedelta(hours=3)
    # It was asked for 3 h ago; its result only arrived now (the exhibit was offline).
    done = result("c-1", NOW)
    state = self_test_state(done, command("c-1", asked, done))
    assert (state.passed, state.tested_at, state.waiting_since) == (True, asked, None)
    # Run on the Pi itself (no command of ours): as old as its arrival.
    local = self_test_state(result("local-1", NOW - timedelta(hours=1)), command("c-0", asked))
    assert local.tested_at == NOW - timedelta(hours=1)
    assert local.waiting_since is None  # the command is older than that result
    # A newer command with no result yet is running until its window (and a grace) ends.
    running = self_test_state(done, command("c-2", NOW + timedelta(minutes=1)))
    assert running.waiting_since == NOW + timedelta(minutes=1)
    assert running.waiting_until == NOW + timedelta(minutes=1, seconds=300) + RESULT_GRACE
    assert self_test_state(None, None) == SelfTestState()


def test_a_self_test_the_exhibit_did_not_run_is_not_running() -> None:
    done = result("c-1", NOW - timedelta(hours=30))
    refused = command("c-2", NOW - timedelta(minutes=5)).model_copy(
        update={"outcome": "refused_in_visit"}
    )
    state = self_test_state(done, refused)
    assert (state.not_run, state.waiting_since) == ("refused_in_visit", None)
    assert verdicts(health(), state)[Check.SELF_TEST] == "not_ready:not_run"
    # One not yet reported may still reach the exhibit until it expires.
    late = command("c-3", NOW - timedelta(minutes=5)).model_copy(
        update={"expires_at": NOW + timedelta(minutes=5)}
    )
    pending = self_test_state(done, late)
    assert pending.waiting_until == NOW + timedelta(minutes=5, seconds=300) + RESULT_GRACE
