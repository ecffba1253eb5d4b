"""device.wire.codec against the contract: what the fleet sends the agent.

The agent's stdlib readers accept and refuse exactly what broker.messages.decode does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from broker import limits, messages
from broker.errors import MessageError
from broker.topics import Channel
from device.wire import codec as wire

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


RIGA = timezone(timedelta(hours=2))


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
