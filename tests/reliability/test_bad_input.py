"""Bad input published raw through Mosquitto to a running fleet API, on SQLite and PostgreSQL.

Each bad message is sent between two good batches: it must be quarantined with its
reason, counted in ``/ingest/stats`` and ``/metrics``, listed in ``/quarantine`` with its
topic, and the good batches around it must be stored, so nothing else is lost and
ingestion keeps running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.limits import MAX_PAYLOAD_BYTES
from broker.mosquitto import MosquittoProcess
from simulator.databases import Backend
from tests.reliability.bad_input import (
    GOOD,
    OTHER,
    Fleet,
    batch,
    counts_topic,
    eventually,
    running_fleet,
)

NOW = datetime.now(UTC)
TRUNCATED = b'{"schema_version": 1, "exhibit_id": "good-1", "rec'
BAD_INPUT = {
    # case: (topic, payload, reason the fleet must give)
    "malformed_json": (counts_topic(), TRUNCATED, "malformed"),
    "not_an_object": (counts_topic(), b"[1, 2, 3]", "malformed"),
    "wrong_schema_version": (
        counts_topic(),
        batch(GOOD, {"seq": 900}, schema_version=2),
        "schema_version",
    ),
    "oversized": (counts_topic(), b" " * (MAX_PAYLOAD_BYTES + 1), "oversized"),
    "unknown_exhibit": (counts_topic("ghost-7"), batch("ghost-7", {"seq": 1}), "unknown_exhibit"),
    "topic_disagrees_with_payload": (
        counts_topic(GOOD),
        batch(OTHER, {"seq": 1}),
        "topic_mismatch",
    ),
    "nan": (counts_topic(), batch(GOOD, {"seq": 901}).replace(b"100.0", b"NaN"), "invalid"),
    "negative_count": (counts_topic(), batch(GOOD, {"seq": 902, "count": -3}), "invalid"),
    "unknown_field": (counts_topic(), batch(GOOD, {"seq": 903, "colour": "red"}), "invalid"),
}


@pytest.fixture(scope="module")
def fleet(backend_module: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One fleet per backend for the whole module (each test checks its own deltas)."""
    with running_fleet(backend_module, tmp_path_factory.mktemp(f"bad-{backend_module}")) as f:
        yield f


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_quarantined_with_its_reason_and_nothing_else_is_lost(
    fleet: Fleet, case: str
) -> None:
    topic, payload, reason = BAD_INPUT[case]
    before = fleet.stats()
    unassigned = fleet.unassigned()
    fleet.publisher.publish(counts_topic(), fleet.good_batch(3))
    fleet.publisher.publish(topic, payload)
    fleet.publisher.publish(counts_topic(), fleet.good_batch(4))

    eventually(lambda: fleet.unassigned() == unassigned + 7, what="both good batches stored")
    eventually(
        lambda: fleet.stats()["quarantined"][reason] == before["quarantined"][reason] + 1,
        what=f"quarantined as {reason}",
    )
    after = fleet.stats()
    others = {r: n for r, n in after["quarantined"].items() if r != reason}
    assert others == {r: n for r, n in before["quarantined"].items() if r != reason}
    assert after["connected"], "ingestion keeps running"
    assert after["records_inserted"] == before["records_inserted"] + 2
    counted = fleet.metric("fleet_ingest_quarantined_total", reason=reason)
    assert counted == after["quarantined"][reason]
    listed = fleet.get("/quarantine", reason=reason, limit=1)
    assert listed.status_code == 200
    (newest,) = listed.json()
    assert (newest["topic"], newest["reason"]) == (topic, reason)
    assert newest["detail"]
    assert newest["payload_bytes"] == min(len(payload), MAX_PAYLOAD_BYTES)


def test_the_projects_broker_refuses_an_oversized_payload_itself(
    mosquitto: MosquittoProcess,
) -> None:
    """With base.conf the fleet never even sees one: Mosquitto disconnects the publisher."""
    dropped: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_disconnect = lambda c, u, flags, reason, props: dropped.append(str(reason))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        info = client.publish(counts_topic(), b" " * (MAX_PAYLOAD_BYTES + 1), qos=1)
        eventually(lambda: bool(dropped), timeout=10, what="the broker drops the publisher")
        assert not info.is_published()
    finally:
        client.loop_stop()


def test_a_future_timestamp_is_kept_unassigned_not_quarantined(fleet: Fleet) -> None:
    """What the fleet does today (docs/simulator.md): it stores a record dated a year ahead,
    counts it once, in no visit; nothing is quarantined."""
    before = fleet.stats()
    unassigned = fleet.unassigned()
    future = (NOW + timedelta(days=365)).isoformat()
    payload = fleet.good_batch(5, start=future, boot_id="future-boot-1")
    fleet.publisher.publish(counts_topic(), payload)
    fleet.publisher.publish(counts_topic(), payload)  # and once more: still counted once
    eventually(lambda: fleet.unassigned() == unassigned + 5, what="stored, unassigned")
    eventually(lambda: fleet.stats()["records_received"] == before["records_received"] + 2)
    after = fleet.stats()
    assert after["quarantined"] == before["quarantined"]
    assert after["records_inserted"] == before["records_inserted"] + 1


def publish_boot(fleet: Fleet, day: datetime, boot_id: str, *, liar: bool) -> int:
    """An unsynced record of 6 at 10:00 on ``day`` in good-2's visit of that day, after (if
    ``liar``) a record of the same boot claiming a synced clock a year ahead; the visit id."""
    school = fleet.client.create_school(
        name=f"School {boot_id}", municipality="Rēzekne", region="Latgale"
    )
    visit = fleet.client.create_visit(
        school_id=school,
        starts_at=day + timedelta(hours=8),
        ends_at=day + timedelta(hours=15),
        exhibit_ids=[OTHER],
    )
    before = sum(fleet.client.exhibit_totals().get(OTHER, (0, 0)))
    seq = fleet.next_seq + 1000
    fleet.next_seq += 2
    if liar:
        future = (NOW + timedelta(days=365)).isoformat()
        claim = {"seq": seq, "start": future, "mono_start": 100.0, "boot_id": boot_id}
        fleet.publisher.publish(counts_topic(OTHER), batch(OTHER, claim))
    honest = {"seq": seq + 1, "start": (day + timedelta(hours=10)).isoformat(), "count": 6}
    honest |= {"mono_start": 200.0, "clock_synced": False, "boot_id": boot_id}
    fleet.publisher.publish(counts_topic(OTHER), batch(OTHER, honest))
    stored = before + 6 + (1 if liar else 0)
    eventually(lambda: sum(fleet.client.exhibit_totals()[OTHER]) == stored, what="stored")
    return visit


def unplaced_of_boot(fleet: Fleet, visit: int, boot_id: str) -> list[int]:
    """The interactions of ``boot_id``'s records that ``GET /unplaced`` lists as maybe
    belonging to ``visit``, and checks that the visit counts none of its usage as final
    (the seq gap these tests leave makes it "incomplete", which outranks "unplaced")."""
    usage = fleet.client.visit_usage(visit)
    assert usage["total"] == 0, json.dumps(usage)[:400]
    assert all(e["completeness"]["status"] != "final" for e in usage["exhibits"]), usage
    listed = fleet.get("/unplaced", visit_id=visit, limit=500).json()["records"]
    return [r["interactions"] for r in listed if r["boot_id"] == boot_id]


def test_an_unsynced_record_without_a_reference_is_unplaced_not_counted(fleet: Fleet) -> None:
    """The control for the next test: no synced reference in its boot and no tag, so its
    wall time proves nothing; it is counted in no visit and listed as unplaced with the
    visit among its candidates, which is never "final" while it waits (issue 16)."""
    visit = publish_boot(fleet, datetime(2026, 3, 9, tzinfo=UTC), "honest-boot", liar=False)
    assert unplaced_of_boot(fleet, visit, "honest-boot") == [6]


def test_a_future_synced_record_does_not_move_its_boots_other_records(fleet: Fleet) -> None:
    """A record of the same boot claiming a synced clock a year ahead is neither a clock
    reference nor a bound: the honest record comes out exactly as in the control (and the
    liar itself, trusted, is placed by its own time: in no visit, not unplaced)."""
    visit = publish_boot(fleet, datetime(2026, 3, 10, tzinfo=UTC), "lying-boot", liar=True)
    assert unplaced_of_boot(fleet, visit, "lying-boot") == [6]
