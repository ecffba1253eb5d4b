"""Trip readiness: each check as a pure function, then ``GET /visits/{id}/readiness`` and
``POST /visits/{id}/self-test`` through a fake broker connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.messages import Command, SelfTestResult, Status, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.alerts import Connectivity
from fleet_api.config_drift import ConfigState
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.models.health import AssignmentPublic, ExhibitHealth, HeartbeatPublic
from fleet_api.readiness import Check, Limits, SelfTestState, Verdict, exhibit_checks, is_ready
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from fleet_api.store.readiness import RESULT_GRACE, self_test_state
from tests.fleet_api.builders import beat, iso, status
from tests.fleet_api.fakes import FakeSource
from tests.fleet_api.tokens import ADMIN_HEADERS

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


# -- the API ----------------------------------------------------------------------------


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    """The app publishing through the fake source, a self-test window of 60 s."""
    changed = settings.model_copy(
        update={"mqtt_url": "mqtt://127.0.0.1:1", "readiness_self_test_s": 60.0}
    )
    app = create_app(changed, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        yield app


async def visit_now(client: httpx.AsyncClient, *exhibit_ids: str, cancelled: bool = False) -> int:
    """A visit of ``exhibit_ids`` starting in two hours."""
    for exhibit_id in exhibit_ids:
        await client.post(
            "/exhibits", json={"id": exhibit_id, "name": exhibit_id.upper(), "inputs": ["button"]}
        )
    school = await client.post(
        "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
    )
    now = utc_now()
    response = await client.post(
        "/visits",
        json={
            "school_id": school.json()["id"],
            "starts_at": iso(now + timedelta(hours=2)),
            "ends_at": iso(now + timedelta(hours=8)),
            "exhibit_ids": list(exhibit_ids),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def healthy(exhibit_id: str, *, config_hash: str = "cfg-1", **beat_change: Any) -> list[Inbound]:
    """What a healthy exhibit has said: its birth with a config hash, a good heartbeat."""
    now = utc_now()
    birth = Status(
        exhibit_id=exhibit_id,
        online=True,
        at=now,
        boot_id="boot-1",
        agent_version="0.2.0",
        config_hash=config_hash,
        inputs=["button"],
    )
    health_values: dict[str, Any] = {
        "under_voltage": False,
        "throttled": False,
        "disk_free_bytes": 8_000_000_000,
        "cpu_temp_c": 41.0,
    }
    health_values.update(beat_change)
    return [
        Inbound(exhibit_topic(exhibit_id, Channel.STATUS), birth.to_payload()),
        beat(exhibit_id, at=now, **health_values),
    ]


def answer_self_tests(source: FakeSource, app: FastAPI, *, passed: dict[str, bool]) -> None:
    """Each exhibit answers the self-test command it was sent, as the agent does."""
    answers = []
    for topic, payload, _ in source.published:
        if topic.endswith("/command"):
            sent = Command.model_validate_json(payload)
            if sent.exhibit_id in passed:
                result = SelfTestResult(
                    exhibit_id=sent.exhibit_id,
                    command_id=sent.command_id,
                    at=utc_now(),
                    seen={"button": passed[sent.exhibit_id]},
                    passed=passed[sent.exhibit_id],
                )
                answers.append(
                    Inbound(exhibit_topic(sent.exhibit_id, Channel.SELFTEST), result.to_payload())
                )
    write_batch(app.state.engine, answers)


async def test_readiness_goes_green_only_when_every_exhibit_is_ready(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    visit = await visit_now(client, "ex-1", "ex-2")
    write_batch(app.state.engine, [*healthy("ex-1"), *healthy("ex-2")])
    for exhibit_id in ("ex-1", "ex-2"):
        await client.patch(f"/exhibits/{exhibit_id}", json={"expected_config_hash": "cfg-1"})

    before = (await client.get(f"/visits/{visit}/readiness")).json()
    assert before["ready"] is False
    assert before["exhibits_ready"] == 0
    assert {c["check"]: c["reason"] for c in before["exhibits"][0]["checks"]}["self_test"] == (
        "never"
    )

    started = await client.post(f"/visits/{visit}/self-test")
    assert started.status_code == 202, started.text
    assert [(c["exhibit_id"], c["action"], c["seconds"]) for c in started.json()] == [
        ("ex-1", "self_test", 60.0),
        ("ex-2", "self_test", 60.0),
    ]
    assert all(retain for topic, _, retain in source.published if topic.endswith("/command"))
    running = (await client.get(f"/visits/{visit}/readiness")).json()
    waiting = [e["self_test_command"]["command_id"] for e in running["exhibits"]]
    assert waiting == [c["command_id"] for c in started.json()]
    assert {e["checks"][3]["reason"] for e in running["exhibits"]} == {"running"}

    answer_self_tests(source, app, passed={"ex-1": True, "ex-2": False})
    half = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (half["ready"], half["exhibits_ready"]) == (False, 1)
    one, two = half["exhibits"]
    assert (one["ready"], two["ready"]) == (True, False)
    assert [c for c in two["checks"] if c["verdict"] != "ready"] == [
        {
            "check": "self_test",
            "verdict": "not_ready",
            "reason": "failed",
            "detail": "the latest self-test failed",
        }
    ]
    assert 0 <= one["self_test_age_s"] < 60

    source.published.clear()
    await client.post(f"/visits/{visit}/self-test", json={"seconds": 30})
    answer_self_tests(source, app, passed={"ex-1": True, "ex-2": True})
    green = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (green["ready"], green["exhibits_ready"]) == (True, 2)
    assert green["current_agent_version"] == "0.2.0"
    assert green["current_agent_version_basis"] == "newest_reported"

    # The power supply of one of them sags: not ready any more.
    write_batch(
        app.state.engine,
        [beat("ex-2", at=utc_now(), under_voltage=True, throttled=False, disk_free_bytes=10**10)],
    )
    red = (await client.get(f"/visits/{visit}/readiness")).json()
    assert (red["ready"], red["exhibits_ready"]) == (False, 1)
    assert [c["reason"] for c in red["exhibits"][1]["checks"] if c["verdict"] != "ready"] == [
        "under_voltage"
    ]


async def test_self_testing_a_visit_when_the_broker_stops_answering(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource, auth_headers: Any
) -> None:
    visit = await visit_now(client, "ex-1", "ex-2", "ex-3")
    source.refuse.add(exhibit_topic("ex-2", Channel.COMMAND))
    refused = await client.post(f"/visits/{visit}/self-test")
    assert refused.status_code == 503
    assert "self-tests started so far: ex-1" in refused.json()["detail"]
    # ex-1 was told, and it shows as running; nothing was recorded for the others.
    readiness = (await client.get(f"/visits/{visit}/readiness")).json()
    assert [e["self_test_command"] is not None for e in readiness["exhibits"]] == [
        True,
        False,
        False,
    ]
    viewer = await client.post(f"/visits/{visit}/self-test", headers=auth_headers("viewer"))
    assert viewer.status_code == 403
    staff = await client.post(f"/visits/{visit}/self-test", headers=auth_headers("staff"))
    assert staff.status_code == 403
    assert (await client.get("/visits/999/readiness")).status_code == 404
    assert (await client.post("/visits/999/self-test")).status_code == 404
    too_long = await client.post(f"/visits/{visit}/self-test", json={"seconds": 601})
    assert too_long.status_code == 422


async def test_no_broker_connection_is_a_503_naming_the_fix(settings: Settings) -> None:
    quiet = create_app(settings)  # no FLEET_MQTT_URL: nothing to publish through
    async with quiet.router.lifespan_context(quiet):
        transport = httpx.ASGITransport(app=quiet)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=ADMIN_HEADERS
        ) as client:
            visit = await visit_now(client, "ex-1")
            refused = await client.post(f"/visits/{visit}/self-test")
    assert refused.status_code == 503
    assert "FLEET_MQTT_URL" in refused.json()["detail"]


async def test_a_cancelled_visit_raises_no_offline_alert_and_another_visit_blocks(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    now = utc_now()
    for exhibit_id in ("ex-1", "ex-2"):
        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
    school = (
        await client.post(
            "/schools", json={"name": "S", "municipality": "Ludzas novads", "region": "Latgale"}
        )
    ).json()["id"]
    today = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(hours=1)),
            "exhibit_ids": ["ex-1", "ex-2"],
        },
    )
    tomorrow = await client.post(
        "/visits",
        json={
            "school_id": school,
            "starts_at": iso(now + timedelta(days=1)),
            "ends_at": iso(now + timedelta(days=1, hours=5)),
            "exhibit_ids": ["ex-1"],
        },
    )
    write_batch(app.state.engine, [status("ex-1", online=False, at=None, boot_id=None)])
    alerts = (await client.get("/exhibits/ex-1/health")).json()["alerts"]
    assert [a["code"] for a in alerts] == ["offline_during_visit"]
    readiness = (await client.get(f"/visits/{tomorrow.json()['id']}/readiness")).json()
    assert readiness["exhibits"][0]["checks"][0]["reason"] in {"offline", "in_another_visit"}

    write_batch(app.state.engine, healthy("ex-1"))
    busy = (await client.get(f"/visits/{tomorrow.json()['id']}/readiness")).json()
    assert busy["exhibits"][0]["checks"][0]["reason"] == "in_another_visit"

    cancel = await client.post(f"/visits/{today.json()['id']}/cancel", json={"reason": "snow"})
    assert cancel.status_code == 200, cancel.text
    write_batch(app.state.engine, [status("ex-1", online=False, at=None, boot_id=None)])
    after = (await client.get("/exhibits/ex-1/health")).json()
    assert (after["visit_now"], [a["code"] for a in after["alerts"]]) == (None, ["offline"])


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
