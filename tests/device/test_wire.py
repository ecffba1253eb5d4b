"""device.wire.codec against the contract: count and session records, their limits, floats.

The agent's stdlib JSON is what broker.messages accepts (status and heartbeat:
test_wire_status.py; what the fleet sends: test_wire_inbound.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from broker import limits, messages
from broker.errors import MessageError
from device.wire import codec as wire
from device.wire import values as wire_values

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
