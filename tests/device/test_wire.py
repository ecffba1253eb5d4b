"""device.wire.codec against the contract.

The agent's stdlib JSON is what broker.messages accepts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import to_json

from broker import limits, messages
from broker.errors import MessageError
from broker.topics import Channel
from device.core.clock import FakeClock
from device.ops.health import Health
from device.ops.status import heartbeat_message, status_message
from device.wire import codec as wire
from device.wire import values as wire_values
from tests.device.conftest import SettingsMaker

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RIGA = timezone(timedelta(hours=2))

COUNTS: list[dict[str, Any]] = [
    {
        "seq": 1,
        "input": "button",
        "start": T0,
        "mono_start": 120,
        "seconds": 60,
        "count": 3,
        "boot_id": "boot-1",
        "clock_synced": True,
    },
    {
        "type": "count",
        "seq": 2**63 - 1,
        "input": "dial_cw",
        "start": datetime(2026, 3, 2, 11, 0, 1, 250, tzinfo=RIGA),
        "mono_start": 0.5,
        "seconds": 0.05,
        "count": 0,
        "boot_id": "b:1.x_y-z",
        "clock_synced": False,
        "visit_id": 42,
    },
    {
        "type": "count",
        "seq": 7,
        "input": "pir",
        "start": "2026-03-02T09:30:00.123456Z",  # as compaction reads it back
        "mono_start": 3600.25,
        "seconds": 86_400.0,
        "count": 1_000_000,
        "boot_id": "b",
        "clock_synced": True,
        "visit_id": None,
    },
]
SESSIONS: list[dict[str, Any]] = [
    {
        "type": "session",
        "seq": 3,
        "start": T0,
        "mono_start": 10.0,
        "dwell_s": 0,
        "interactions": 1,
        "boot_id": "boot-1",
        "clock_synced": False,
        "visit_id": 9,
    },
    {
        "type": "session",
        "seq": 4,
        "start": T0 + timedelta(microseconds=1),
        "mono_start": 10.0,
        "dwell_s": 86_400,
        "interactions": 1_000_000,
        "boot_id": "boot-1",
        "clock_synced": True,
    },
]


@pytest.mark.parametrize("fields", COUNTS + SESSIONS)
def test_records_are_the_contracts_own_json(fields: dict[str, Any]) -> None:
    body = wire.record_json(fields)
    model = messages.SessionRecord if fields.get("type") == "session" else messages.CountRecord
    expected = model.model_validate({k: v for k, v in fields.items() if k != "type"})
    assert body == expected.to_payload().decode()
    assert model.model_validate_json(body) == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": 2**63}, "seq"),
        ({"input": "Button"}, "input"),
        ({"input": "b\n"}, "input"),
        ({"start": datetime(2026, 3, 2, 9, 30)}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"mono_start": -1}, "mono_start"),
        ({"mono_start": float("nan")}, "mono_start"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": float("inf")}, "seconds"),
        ({"count": -1}, "count"),
        ({"count": 1_000_001}, "count"),
        ({"count": 2.5}, "count"),
        ({"boot_id": ""}, "boot_id"),
        ({"boot_id": "a b"}, "boot_id"),
        ({"visit_id": 0}, "visit_id"),
        ({"colour": "red"}, "colour"),
        ({"type": "press"}, "type"),
    ],
)
def test_records_the_contract_refuses_are_refused(change: dict[str, Any], field: str) -> None:
    fields = {**COUNTS[0], **change}
    with pytest.raises(MessageError, match=f"^invalid: {field}:"):
        wire.record_json(fields)
    with pytest.raises(ValueError, match=field):
        messages.CountRecord.model_validate(fields)


def test_a_record_without_a_required_field_is_refused() -> None:
    fields = {k: v for k, v in COUNTS[0].items() if k != "boot_id"}
    with pytest.raises(MessageError, match="boot_id: field required"):
        wire.record_json(fields)


def test_status_and_heartbeat_are_the_contracts_own_json(make_settings: SettingsMaker) -> None:
    settings = make_settings(inputs=[{"name": "start", "kind": "button", "pin": 17, "hold_s": 2}])
    clock = FakeClock()
    will = status_message(settings, online=False)
    assert will.payload == messages.Status(exhibit_id="exhibit-001", online=False).to_payload()
    birth = status_message(settings, online=True, clock=clock)
    parsed = messages.Status.model_validate_json(birth.payload)
    assert parsed.inputs == ["start", "start_hold"]
    assert birth.payload == parsed.to_payload()
    for health in (
        Health(),
        Health(
            cpu_temp_c=51.5,
            under_voltage=False,
            throttled=True,
            disk_free_bytes=2**40,
            mem_available_bytes=0,
            wifi_signal_dbm=-67,
        ),
    ):
        for window in ({}, {"retained_from_seq": 1, "retained_records": 0}):
            beat = heartbeat_message(
                settings, clock=clock, clock_synced=True, outbox_depth=12, health=health, **window
            )
            parsed_beat = messages.Heartbeat.model_validate_json(beat.payload)
            assert beat.payload == parsed_beat.to_payload()
            assert parsed_beat.retained_from_seq == window.get("retained_from_seq")


@pytest.mark.parametrize("taken", [None, {}, {"button": 3, "dial_cw": 1, "b": limits.MAX_AMOUNT}])
def test_self_test_results_round_trip_through_the_contract(taken: dict[str, int] | None) -> None:
    result = wire.SelfTestResult(
        exhibit_id="exhibit-001",
        command_id="cmd-1",
        at=T0,
        seen={"button": True, "dial": False},
        passed=False,
        taken=taken,
    )
    payload = result.to_payload()
    parsed = messages.SelfTestResult.model_validate_json(payload)
    assert payload == parsed.to_payload()
    assert wire.SelfTestResult.from_json(parsed.model_dump_json()) == result


@pytest.mark.parametrize("outcome", ["ran", "expired", "refused_in_visit", "refused_unknown_age"])
@pytest.mark.parametrize("visit_id", [None, 314])
def test_command_reports_are_the_contracts_own_json(outcome: str, visit_id: int | None) -> None:
    command = wire.Command(
        exhibit_id="exhibit-001",
        command_id="c-1_x",
        action="self_test",
        seconds=30,
        issued_at=T0,
        force=True,
    )
    payload = wire.command_done_payload(
        command, outcome=outcome, at=T0, clock_synced=False, visit_id=visit_id
    )
    parsed = messages.CommandDone.model_validate_json(payload)
    assert payload == parsed.to_payload()
    assert (parsed.outcome, parsed.visit_id, parsed.action) == (outcome, visit_id, "self_test")
    with pytest.raises(MessageError):
        wire.command_done_payload(
            command, outcome="skipped", at=T0, clock_synced=False, visit_id=None
        )


FLEET_PAYLOADS: list[tuple[Channel, bytes]] = [
    (
        Channel.ASSIGNMENT,
        messages.Assignment(exhibit_id="exhibit-001", visit_id=314, issued_at=T0).to_payload(),
    ),
    (Channel.ASSIGNMENT, messages.Assignment(exhibit_id="e1", issued_at=T0).to_payload()),
    (
        Channel.COMMAND,
        messages.Command(
            exhibit_id="exhibit-001",
            command_id="c-1_x",
            action="identify",
            seconds=10,
            issued_at=T0,
        ).to_payload(),
    ),
    (
        Channel.COMMAND,
        messages.Command(
            exhibit_id="exhibit-001",
            command_id="c" * 64,
            action="self_test",
            seconds=0.5,
            issued_at=datetime(2026, 3, 2, 11, 30, tzinfo=RIGA),
        ).to_payload(),
    ),
    (
        Channel.COMMAND,
        messages.Command(
            exhibit_id="exhibit-001",
            command_id="check-1",
            action="self_test",
            seconds=30,
            issued_at=T0,
            expires_at=T0 + timedelta(minutes=10),
            force=True,
        ).to_payload(),
    ),
    (
        Channel.COMMAND,
        messages.Command(
            exhibit_id="e1",
            command_id="c2",
            action="identify",
            seconds=1,
            issued_at=T0,
            expires_at=datetime(2026, 3, 2, 11, 40, tzinfo=RIGA),
            force=False,
        ).to_payload(),
    ),
    (
        Channel.CUSTODY,
        messages.Custody(exhibit_id="exhibit-001", stored_below=1, at=T0).to_payload(),
    ),
    (
        Channel.CUSTODY,
        messages.Custody(
            exhibit_id="e1",
            stored_below=501,
            ranges=[(503, 600), (602, 602), (limits.SEQ_MAX - 1, limits.SEQ_MAX)],
            at=datetime(2026, 3, 2, 11, 30, tzinfo=RIGA),
        ).to_payload(),
    ),
    (
        Channel.CUSTODY,
        messages.Custody(
            exhibit_id="e1",
            stored_below=2,
            ranges=[(n, n) for n in range(3, 3 + 2 * limits.MAX_CUSTODY_RANGES, 2)],
            at=T0,
        ).to_payload(),
    ),
    (
        Channel.CUSTODY,
        b'{"schema_version":1,"exhibit_id":"e1","stored_below":3.0,"at":"2026-03-02T09:30:00Z"}',
    ),
    (
        Channel.RESEND,
        messages.Resend(
            exhibit_id="exhibit-001", command_id="restore-7_e1", from_seq=4200, issued_at=T0
        ).to_payload(),
    ),
]


def _command(**change: Any) -> bytes:
    fields = {
        "schema_version": 1,
        "exhibit_id": "exhibit-001",
        "command_id": "c1",
        "action": "identify",
        "seconds": 5,
        "issued_at": "2026-03-02T09:30:00Z",
    }
    fields.update(change)
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


BAD_PAYLOADS: list[tuple[Channel, bytes]] = [
    (Channel.COMMAND, b"x" * (limits.MAX_PAYLOAD_BYTES + 1)),
    (Channel.COMMAND, b"{not json"),
    (Channel.COMMAND, b"\xff\xfe"),
    (Channel.COMMAND, b"[1, 2]"),
    (Channel.COMMAND, _command(schema_version=2)),
    (Channel.COMMAND, _command(schema_version=None)),
    (Channel.COMMAND, _command(action="reboot")),
    (Channel.COMMAND, _command(seconds=0)),
    (Channel.COMMAND, _command(seconds=601)),
    (Channel.COMMAND, _command(command_id="")),
    (Channel.COMMAND, _command(command_id="a b")),
    (Channel.COMMAND, _command(exhibit_id="Exhibit 1")),
    (Channel.COMMAND, _command(issued_at="2026-03-02T09:30:00")),
    (Channel.COMMAND, _command(issued_at=None)),
    (Channel.COMMAND, _command(extra=1)),
    (Channel.COMMAND, _command(expires_at="2026-03-02T09:40:00")),  # no UTC offset
    (Channel.COMMAND, _command(expires_at="soon")),
    (Channel.COMMAND, _command(force="yes")),
    (Channel.COMMAND, _command(force=1)),
    (
        Channel.ASSIGNMENT,
        b'{"schema_version":1,"exhibit_id":"e1","visit_id":0,"issued_at":"2026-03-02T09:30:00Z"}',
    ),
    (
        Channel.ASSIGNMENT,
        b'{"schema_version":1,"exhibit_id":"e1","visit_id":1.5,"issued_at":"2026-03-02T09:30:00Z"}',
    ),
    (Channel.ASSIGNMENT, b'{"schema_version":1,"exhibit_id":"e1"}'),
]


def _custody(**change: Any) -> bytes:
    fields: dict[str, Any] = {
        "schema_version": 1,
        "exhibit_id": "e1",
        "stored_below": 10,
        "ranges": [[12, 20], [30, 31]],
        "at": "2026-03-02T09:30:00Z",
    }
    fields.update(change)
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


def _resend(**change: Any) -> bytes:
    fields: dict[str, Any] = {
        "schema_version": 1,
        "exhibit_id": "e1",
        "command_id": "r1",
        "from_seq": 5,
        "issued_at": "2026-03-02T09:30:00Z",
    }
    fields.update(change)
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


BAD_CUSTODY: list[tuple[Channel, bytes]] = [
    (Channel.CUSTODY, _custody(stored_below=0)),
    (Channel.CUSTODY, _custody(stored_below=limits.SEQ_MAX + 1)),
    (Channel.CUSTODY, _custody(stored_below=1.5)),
    (Channel.CUSTODY, _custody(stored_below=None)),
    (Channel.CUSTODY, _custody(at=None)),
    (Channel.CUSTODY, _custody(at="2026-03-02T09:30:00")),
    (Channel.CUSTODY, _custody(exhibit_id="E1")),
    (Channel.CUSTODY, _custody(ranges=[[10, 12]])),  # stored_below itself is missing
    (Channel.CUSTODY, _custody(ranges=[[12, 11]])),
    (Channel.CUSTODY, _custody(ranges=[[12, 14], [15, 16]])),  # touching: not maximal
    (Channel.CUSTODY, _custody(ranges=[[20, 22], [12, 14]])),
    (Channel.CUSTODY, _custody(ranges=[[12, 14, 16]])),
    (Channel.CUSTODY, _custody(ranges=[[12]])),
    (Channel.CUSTODY, _custody(ranges=[12, 14])),
    (Channel.CUSTODY, _custody(ranges="12-14")),
    (Channel.CUSTODY, _custody(ranges=[[12, limits.SEQ_MAX + 1]])),
    (
        Channel.CUSTODY,
        _custody(ranges=[[n, n] for n in range(12, 12 + 2 * (limits.MAX_CUSTODY_RANGES + 1), 2)]),
    ),
    (Channel.CUSTODY, _custody(extra=True)),
    (Channel.CUSTODY, _custody(schema_version=2)),
    (Channel.RESEND, _resend(from_seq=0)),
    (Channel.RESEND, _resend(from_seq=5.5)),
    (Channel.RESEND, _resend(command_id="r 1")),
    (Channel.RESEND, _resend(command_id="r" * 65)),
    (Channel.RESEND, _resend(issued_at=None)),
    (Channel.RESEND, _resend(exhibit_id=None)),
    (Channel.RESEND, _resend(seconds=3)),
]


def _outcome(decode: Any, channel: Channel, payload: bytes) -> tuple[str, dict[str, Any]]:
    """("ok", fields) or (reason code, {})."""
    try:
        message = decode(channel, payload)
    except MessageError as exc:
        return exc.reason, {}
    names = (
        "exhibit_id",
        "visit_id",
        "command_id",
        "action",
        "seconds",
        "issued_at",
        "stored_below",
        "at",
        "from_seq",
    )
    found = {name: getattr(message, name) for name in names if hasattr(message, name)}
    if hasattr(message, "expires_at"):  # a Command: the agent reads an absent force as false
        found["expires_at"] = message.expires_at
        found["force"] = bool(message.force)
    if hasattr(message, "ranges"):
        found["ranges"] = [tuple(pair) for pair in message.ranges]
    return "ok", found


@pytest.mark.parametrize(("channel", "payload"), FLEET_PAYLOADS + BAD_PAYLOADS + BAD_CUSTODY)
def test_decoding_agrees_with_the_contract(channel: Channel, payload: bytes) -> None:
    expected = _outcome(messages.decode, channel, payload)
    assert _outcome(wire.decode_inbound, channel, payload) == expected


@pytest.mark.parametrize(
    ("field", "last_good", "first_bad"),
    [
        ("count", limits.MAX_AMOUNT, limits.MAX_AMOUNT + 1),
        ("seconds", limits.MAX_SPAN_S, limits.MAX_SPAN_S + 1),
        ("seq", limits.SEQ_MAX, limits.SEQ_MAX + 1),
        ("boot_id", "b" * limits.BOOT_ID_MAX_LENGTH, "b" * (limits.BOOT_ID_MAX_LENGTH + 1)),
    ],
)
def test_the_agent_and_the_contract_hold_the_same_limits(
    field: str, last_good: object, first_bad: object
) -> None:
    good = {**COUNTS[0], field: last_good}
    model = messages.CountRecord.model_validate(good)
    assert wire.record_json(good) == model.model_dump_json(exclude_none=True)
    bad = {**COUNTS[0], field: first_bad}
    with pytest.raises(MessageError, match=f"^invalid: {field}:"):
        wire.record_json(bad)
    with pytest.raises(ValueError, match=field):
        messages.CountRecord.model_validate(bad)


def test_the_running_agent_imports_no_pydantic(tmp_path: Path) -> None:
    """A real agent (mock pins, no broker) counts a press without importing pydantic."""
    script = textwrap.dedent(
        f"""
        import sys
        from gpiozero.pins.mock import MockFactory
        import device.runtime.cli, device.link.mqtt, device.ops.status_report
        from device.runtime.agent import Agent
        from device.settings.config import load_settings

        settings = load_settings(
            use_environment=False,
            exhibit_id="exhibit-001",
            broker_url="mqtts://127.0.0.1:1",
            username="exhibit-001",
            password="pw",
            data_dir={str(tmp_path)!r},
            inputs=[{{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}}],
            bucket_seconds=0.01,
            reconnect_min_s=0.05,
            reconnect_max_s=0.1,
        )
        factory = MockFactory()
        agent = Agent(settings, pin_factory=factory)
        agent.start()
        factory.pin(17).drive_low()
        factory.pin(17).drive_high()
        assert agent.wait_recorded(10)
        agent.stop()
        loaded = sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("pydantic", "pydantic_core", "pydantic_settings", "dotenv")
        )
        print(loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_refused_subscriptions_are_the_contracts_own_json(make_settings: SettingsMaker) -> None:
    settings = make_settings()
    clock = FakeClock()
    for refused in ({}, {"fleet/v1/exhibits/exhibit-001/command": "Not authorized"}):
        birth = status_message(settings, online=True, clock=clock, refused=refused)
        assert messages.Status.model_validate_json(birth.payload).refused_subscriptions == refused
        assert birth.payload == messages.Status.model_validate_json(birth.payload).to_payload()
        beat = heartbeat_message(
            settings,
            clock=clock,
            clock_synced=True,
            outbox_depth=0,
            health=Health(),
            refused=refused,
        )
        parsed = messages.Heartbeat.model_validate_json(beat.payload)
        assert (parsed.refused_subscriptions, beat.payload) == (refused, parsed.to_payload())
    too_many = {f"fleet/v1/exhibits/exhibit-001/x{n}": "Not authorized" for n in range(17)}
    for bad in (too_many, {"": "Not authorized"}, {"t": "bell\x07"}):
        with pytest.raises(MessageError):
            status_message(settings, online=True, clock=clock, refused=bad)
        with pytest.raises(ValidationError):  # the contract refuses the same
            messages.Status(exhibit_id="exhibit-001", online=True, refused_subscriptions=bad)


FINITE = st.floats(allow_nan=False, allow_infinity=False)


@given(value=FINITE)
@settings(max_examples=3000)
def test_a_float_is_written_as_pydantic_writes_it(value: float) -> None:
    """Over every finite float (hypothesis draws subnormals, both signs of zero, the
    largest and smallest exponents): the agent's digits and layout are pydantic's."""
    assert wire_values.contract_float(value) == to_json(value).decode()
    assert float(wire_values.contract_float(value)) == value


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (3e-05, "0.00003"),
        (-1.5e-05, "-0.000015"),
        (1e-07, "1e-7"),
        (1e16, "1e+16"),
        (0.0001, "0.0001"),
    ],
)
def test_the_layouts_where_json_dumps_and_pydantic_differ(value: float, written: str) -> None:
    assert wire_values.contract_float(value) == written


@given(
    uptime=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    temp=FINITE,
    signal=FINITE,
    mono=st.floats(min_value=0, max_value=1e9),
    seconds=st.floats(min_value=1e-300, max_value=limits.MAX_SPAN_S),
)
@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_payloads_with_any_floats_are_the_contracts_own_bytes(
    uptime: float, temp: float, signal: float, mono: float, seconds: float
) -> None:
    beat = wire.heartbeat_payload(
        exhibit_id="exhibit-001",
        at=T0,
        boot_id="boot-1",
        uptime_s=uptime,
        clock_synced=True,
        outbox_depth=0,
        cpu_temp_c=temp,
        wifi_signal_dbm=signal,
    )
    assert beat == messages.Heartbeat.model_validate_json(beat).to_payload()
    fields = {**COUNTS[0], "mono_start": mono, "seconds": seconds}
    body = wire.record_json(fields)
    assert body == messages.CountRecord.model_validate(fields).to_payload().decode()
