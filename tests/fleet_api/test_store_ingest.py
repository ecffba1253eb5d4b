"""The batch writer: one transaction per batch, idempotent, every bad message quarantined."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from broker.limits import MAX_PAYLOAD_BYTES
from fleet_api.inbound import Inbound
from fleet_api.store.ingest import write_batch
from fleet_api.tables import count_records, exhibit_status
from tests.fleet_api.builders import T0, counts, heartbeat, raw, record, status
from tests.fleet_api.helpers import quarantined, record_count, register, stored_records

COUNTS = "fleet/v1/exhibits/exhibit-001/counts"


def test_a_batch_is_stored_and_counted(engine: Engine) -> None:
    register(engine, "exhibit-001", "exhibit-002")
    outcome = write_batch(
        engine,
        [
            counts("exhibit-001", record(1, count=3), record(2, count=4)),
            counts("exhibit-002", record(1, count=5)),
        ],
    )
    assert (outcome.messages, outcome.records_received, outcome.records_inserted) == (2, 3, 3)
    assert not outcome.quarantined
    assert stored_records(engine) == [
        ("exhibit-001", 1, 3),
        ("exhibit-001", 2, 4),
        ("exhibit-002", 1, 5),
    ]


def test_replaying_a_batch_changes_nothing(engine: Engine) -> None:
    register(engine, "exhibit-001")
    batch = [counts("exhibit-001", record(1, count=3), record(2, count=4))]
    write_batch(engine, batch)
    before = stored_records(engine)

    again = write_batch(engine, batch)

    assert stored_records(engine) == before
    assert (again.records_received, again.records_inserted, again.records_duplicate) == (2, 0, 2)


def test_a_redelivered_record_inside_a_new_batch_is_not_counted_twice(engine: Engine) -> None:
    register(engine, "exhibit-001")
    write_batch(engine, [counts("exhibit-001", record(1, count=3))])
    # The same seq with a different count is still the same record: the first one wins.
    outcome = write_batch(
        engine,
        [
            counts("exhibit-001", record(1, count=99), record(2, count=4)),
            counts("exhibit-001", record(2, count=4)),
        ],
    )
    assert outcome.records_inserted == 1
    assert stored_records(engine) == [("exhibit-001", 1, 3), ("exhibit-001", 2, 4)]


VALID = json.loads(counts("exhibit-001", record(1)).payload)


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "detail"),
    [
        (COUNTS, b"x" * (MAX_PAYLOAD_BYTES + 1), "oversized", "bytes >"),
        (COUNTS, b"{not json", "malformed", "not JSON"),
        (COUNTS, b"[1, 2]", "malformed", "not a JSON object"),
        (COUNTS, {**VALID, "schema_version": 2}, "schema_version", "schema_version 2"),
        (COUNTS, {**VALID, "records": []}, "invalid", "records"),
        (COUNTS, {**VALID, "surprise": 1}, "invalid", "surprise"),
        ("fleet/v1/exhibits/exhibit-001/counts/extra", VALID, "unknown_topic", "is not"),
        ("somebody/else", VALID, "unknown_topic", "is not under"),
        ("fleet/v1/exhibits/exhibit-001/assignment", VALID, "unknown_topic", "not ingested"),
        ("fleet/v1/exhibits/exhibit-002/counts", VALID, "topic_mismatch", "'exhibit-001'"),
        (
            "fleet/v1/exhibits/exhibit-009/counts",
            {**VALID, "exhibit_id": "exhibit-009"},
            "unknown_exhibit",
            "'exhibit-009' is not registered",
        ),
    ],
)
def test_every_bad_message_is_quarantined_with_reason_detail_and_raw_payload(
    engine: Engine, topic: str, payload: bytes | dict[str, object], reason: str, detail: str
) -> None:
    register(engine, "exhibit-001", "exhibit-002")
    message = raw(topic, payload)
    good = counts("exhibit-001", record(7))

    outcome = write_batch(engine, [message, good])

    assert outcome.quarantined == {reason: 1}
    [(stored_reason, stored_topic, stored_payload, stored_detail)] = quarantined(engine)
    assert (stored_reason, stored_topic) == (reason, topic)
    assert stored_payload == message.payload[:MAX_PAYLOAD_BYTES]
    assert detail in stored_detail
    # The bad message did not stop the good one in the same batch.
    assert stored_records(engine) == [("exhibit-001", 7, 1)]


def patched(message: Inbound, path: tuple[str | int, ...], value: object) -> Inbound:
    """The same message with one JSON value replaced (past what the models would build)."""
    raw = json.loads(message.payload)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return Inbound(message.topic, json.dumps(raw).encode())


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (patched(counts("exhibit-001", record(1)), ("records", 0, "visit_id"), 2**64), "visit_id"),
        (patched(counts("exhibit-001", record(1)), ("records", 0, "boot_id"), "a\x00b"), "boot_id"),
        (patched(heartbeat("exhibit-001"), ("boot_id",), "b" * 65), "boot_id"),
        (patched(status("exhibit-001"), ("agent_version",), "v\x00"), "agent_version"),
    ],
)
def test_values_the_columns_cannot_hold_are_quarantined_not_database_errors(
    engine: Engine, message: Inbound, field: str
) -> None:
    register(engine, "exhibit-001")
    outcome = write_batch(engine, [message])
    assert outcome.quarantined == {"invalid": 1}
    assert field in quarantined(engine)[0][3]


def test_status_and_heartbeat_keep_the_latest_state_per_exhibit(engine: Engine) -> None:
    register(engine, "exhibit-001", "exhibit-002")
    birth = status("exhibit-001", online=True, boot_id="boot-2", agent_version="1.2.0")
    will = status("exhibit-001", online=False, at=None, boot_id=None, agent_version=None)
    write_batch(
        engine,
        [birth, heartbeat("exhibit-002", boot_id="b"), heartbeat("exhibit-001", boot_id="boot-2")],
    )
    write_batch(engine, [will])

    with engine.connect() as connection:
        rows = {r.exhibit_id: r for r in connection.execute(select(exhibit_status))}
    first, second = rows["exhibit-001"], rows["exhibit-002"]
    # The last will says offline, and when: when it arrived; it keeps what it does not say.
    assert (first.online, first.boot_id, first.agent_version) == (False, "boot-2", "1.2.0")
    assert first.status_at == will.received_at
    assert first.last_seen_at == will.received_at
    # A heartbeat alone does not say online or offline.
    assert (second.online, second.status_at, second.boot_id) == (None, None, "b")


def test_status_of_an_unregistered_exhibit_is_quarantined(engine: Engine) -> None:
    outcome = write_batch(engine, [status("exhibit-404"), heartbeat("exhibit-404")])
    assert outcome.quarantined == {"unknown_exhibit": 2}
    with engine.connect() as connection:
        assert connection.execute(select(exhibit_status)).all() == []


def test_an_empty_batch_writes_nothing(engine: Engine) -> None:
    outcome = write_batch(engine, [])
    assert (outcome.messages, outcome.records_inserted, record_count(engine)) == (0, 0, 0)


def test_times_are_stored_and_read_back_in_utc(engine: Engine) -> None:
    register(engine, "exhibit-001")
    # An agent whose clock is set to UTC+02:00 still stores the same instant.
    payload = json.loads(counts("exhibit-001", record(1)).payload)
    payload["records"][0]["start"] = "2026-05-04T10:00:00+02:00"
    write_batch(engine, [raw(COUNTS, payload)])
    with engine.connect() as connection:
        start = connection.execute(select(count_records.c.start)).scalar_one()
    assert start == T0
    assert start.utcoffset().total_seconds() == 0
