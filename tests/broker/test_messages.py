from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from broker.errors import MessageError
from broker.messages import (
    MAX_PAYLOAD_BYTES,
    SEQ_MAX,
    Assignment,
    CountBatch,
    CountRecord,
    Heartbeat,
    Status,
    decode,
)
from broker.topics import Channel

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def record(**overrides: object) -> CountRecord:
    fields: dict[str, object] = {
        "seq": 1,
        "input": "button",
        "start": T0,
        "mono_start": 12.5,
        "seconds": 60.0,
        "count": 3,
        "boot_id": "b1",
        "clock_synced": True,
        "visit_id": 7,
    }
    fields.update(overrides)
    return CountRecord.model_validate(fields)


def batch_payload(**record_overrides: object) -> bytes:
    batch = CountBatch(exhibit_id="exhibit-001", sent_at=T0, records=[record()])
    raw = json.loads(batch.to_payload())
    raw["records"][0].update(record_overrides)
    return json.dumps(raw).encode()


def test_count_batch_round_trips_through_json() -> None:
    batch = CountBatch(
        exhibit_id="exhibit-001", sent_at=T0, records=[record(), record(seq=SEQ_MAX)]
    )
    assert decode(Channel.COUNTS, batch.to_payload()) == batch


def test_optional_values_are_omitted_not_invented() -> None:
    beat = Heartbeat(
        exhibit_id="exhibit-001",
        at=T0,
        boot_id="b1",
        uptime_s=5,
        clock_synced=False,
        outbox_depth=0,
    )
    raw = json.loads(beat.to_payload())
    assert "cpu_temp_c" not in raw
    assert "wifi_signal_dbm" not in raw
    assert decode(Channel.HEARTBEAT, beat.to_payload()) == beat


def test_last_will_has_no_time_and_parses() -> None:
    will = Status(exhibit_id="exhibit-001", online=False)
    assert decode(Channel.STATUS, will.to_payload()) == will


def test_assignment_can_clear_the_visit() -> None:
    cleared = Assignment(exhibit_id="exhibit-001", visit_id=None, issued_at=T0)
    assert json.loads(cleared.to_payload()).get("visit_id") is None
    assert decode(Channel.ASSIGNMENT, cleared.to_payload()) == cleared


def test_models_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        record().count = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'{"schema_version": 2}', "schema_version"),
        (b'{"exhibit_id": "x"}', "schema_version"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "oversized"),
        (batch_payload(count=-1), "invalid"),
        (batch_payload(mono_start=float("nan")), "invalid"),
        (batch_payload(seq=0), "invalid"),
        (batch_payload(seq=SEQ_MAX + 1), "invalid"),
        (batch_payload(start="2026-11-02T09:00:00"), "invalid"),
        (batch_payload(surprise=1), "invalid"),
    ],
)
def test_bad_payloads_get_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as caught:
        decode(Channel.COUNTS, payload)
    assert caught.value.reason == reason


def test_nan_literal_in_json_is_invalid() -> None:
    payload = batch_payload().replace(b'"mono_start": 12.5', b'"mono_start": NaN')
    assert b"NaN" in payload
    with pytest.raises(MessageError) as caught:
        decode(Channel.COUNTS, payload)
    assert caught.value.reason == "invalid"
