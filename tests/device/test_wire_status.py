"""device.wire.codec against the contract: what the agent says of itself.

Status, heartbeat, self-test results and command reports are what broker.messages accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from broker import limits, messages
from broker.errors import MessageError
from device.core.clock import FakeClock
from device.ops.health import Health
from device.ops.status import heartbeat_message, status_message
from device.wire import codec as wire
from tests.device.conftest import SettingsMaker

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


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
