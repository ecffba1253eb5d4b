"""The fast CountBatch reader reads exactly what the pydantic contract reads, or defers to it.

``read_counts`` may only ever give rows the model gives too (same values, same types);
everything else it must leave to the model (None). Through ``sort``, ingestion then gets
triage's outcome for every payload: the same rows, or the same quarantine reason and
detail. Agents' own payloads must take the fast path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker.errors import MessageError
from broker.messages import CountBatch, CountRecord, SessionRecord, decode
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.record_rows import RecordBatch, read_counts, rows_of
from fleet_api.store.ingest import ReadCounts, sort
from fleet_api.triage import Accepted, Rejected, triage

EXHIBIT = "exhibit-001"
TOPIC = exhibit_topic(EXHIBIT, Channel.COUNTS)
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _comparable(rows: RecordBatch) -> list[list[tuple[type, Any]]]:
    """Rows with each value's type, times as (UTC offset, instant): equal means identical."""
    return [
        [(type(v), (v.utcoffset(), v)) if isinstance(v, datetime) else (type(v), v) for v in row]
        for row in rows.records
    ]


def _model_outcome(payload: bytes) -> RecordBatch | str:
    try:
        message = decode(Channel.COUNTS, payload)
    except MessageError as exc:
        return f"{exc.reason}: {exc.detail}"
    assert isinstance(message, CountBatch)
    return rows_of(message)


def check(payload: bytes) -> None:
    """The fast reader agrees with the model; sort() agrees with triage()."""
    fast = read_counts(payload)
    model = _model_outcome(payload)
    if fast is not None:
        assert isinstance(model, RecordBatch), f"fast path accepted what the model refuses: {model}"
        assert fast.exhibit_id == model.exhibit_id
        assert _comparable(fast) == _comparable(model)
    inbound = Inbound(TOPIC, payload)
    sorted_out, triaged = sort(inbound), triage(inbound)
    if isinstance(triaged, Rejected):
        assert sorted_out == triaged
    else:
        assert isinstance(triaged, Accepted)
        assert isinstance(triaged.message, CountBatch)
        assert isinstance(sorted_out, ReadCounts | Accepted)
        rows = sorted_out.batch if isinstance(sorted_out, ReadCounts) else rows_of(triaged.message)
        assert _comparable(rows) == _comparable(rows_of(triaged.message))


# --- valid records, as agents write them, and every way to spoil them ---

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
seqs = st.integers(1, 2**63 - 1)
boot_ids = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
inputs = st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z")
visit_ids = st.none() | st.integers(1, 2**63 - 1)
finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def count_records(draw: st.DrawFn) -> dict[str, Any]:
    record = CountRecord(
        seq=draw(seqs),
        input=draw(inputs),
        start=draw(times),
        mono_start=draw(st.floats(0, 1e9, **finite)),
        seconds=draw(st.floats(0.001, 86_400, **finite)),
        count=draw(st.integers(0, 1_000_000)),
        boot_id=draw(boot_ids),
        clock_synced=draw(st.booleans()),
        visit_id=draw(visit_ids),
    )
    return json.loads(record.to_payload())  # type: ignore[no-any-return]


@st.composite
def session_records(draw: st.DrawFn) -> dict[str, Any]:
    record = SessionRecord(
        seq=draw(seqs),
        start=draw(times),
        mono_start=draw(st.floats(0, 1e9, **finite)),
        dwell_s=draw(st.floats(0, 86_400, **finite)),
        interactions=draw(st.integers(1, 1_000_000)),
        boot_id=draw(boot_ids),
        clock_synced=draw(st.booleans()),
        visit_id=draw(visit_ids),
    )
    return json.loads(record.to_payload())  # type: ignore[no-any-return]


@st.composite
def time_texts(draw: st.DrawFn) -> str:
    """Times in many notations: canonical, other zones, naive, odd separators, fractions."""
    at = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    digits = draw(st.sampled_from([0, 1, 3, 6, 7, 9]))
    fraction = f".{at.microsecond:06d}{'123'}"[: digits + 1] if digits else ""
    separator = draw(st.sampled_from(["T", "T", "T", " ", "t", "_"]))
    suffix = draw(
        st.sampled_from(["Z", "+00:00", "z", "", "+02:00", "-05:30", "+0000", "+00", "-00:00"])
    )
    return f"{at:%Y-%m-%d}{separator}{at:%H:%M:%S}{fraction}{suffix}"


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 86_400, 86_401, 1_000_000, 1_000_001, 2**63 - 1, 2**63, 2**53 + 1]),
    st.floats(),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 60.0, 1e300, float("nan"), float("inf")]),
    st.text(max_size=70),
    st.sampled_from(["1", "60", "true", "false", "count", "session", "button", "boot-1", ""]),
    time_texts(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
BIG = 2**63
INF, NAN = float("inf"), float("nan")
EDGES: dict[str, list[Any]] = {
    "type": ["count", "session", "Count", None, 1, ""],
    "seq": [0, 1, -1, True, False, 1.0, "1", BIG - 1, BIG, None, 1.5],
    "input": ["", "Button", "a" * 32, "a" * 33, "1abc", "ab-c", "\u00e9", "abc\n", 5, None],
    "start": [1_700_000_000, 1_700_000_000.5, "1700000000", None, "", "2026-11-02"],
    "mono_start": [-0.0, -1, 0, True, "0", 1e300, 2**53, 2**53 + 1, 2**70, -1e-300, None, INF],
    "seconds": [0, 0.0, -1, 86_400, 86_400.0, 86_400.5, 86_401, True, "60", 1e-300, INF, NAN],
    "count": [-1, 0, 1_000_000, 1_000_001, True, False, 1.0, 1.5, "1", None],
    "boot_id": ["", "a" * 64, "a" * 65, "a b", "a\n", "\u00e9", "a:b.c_d-e", 5, None],
    "clock_synced": [True, False, 0, 1, "true", "yes", None, 1.0, "1"],
    "visit_id": [None, 0, 1, -1, BIG - 1, BIG, True, 1.0, "1"],
    "dwell_s": [0, -0.0, -0.1, 86_400, 86_400.1, True, "1", None, INF, NAN],
    "interactions": [0, 1, 1_000_000, 1_000_001, True, 1.0, "1", None],
    "extra": [None, 1, "x"],
}
"""Per field, the values next to its bounds and types (others come from ``odd_values``)."""


@st.composite
def spoiled(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with one value replaced, or a key removed or added."""
    record = dict(record)
    key = draw(st.sampled_from(sorted(EDGES)))
    action = draw(st.sampled_from(["edge", "edge", "edge", "odd", "remove", "time"]))
    if action == "remove":
        record.pop(key, None)
    elif action == "time":
        record["start"] = draw(time_texts())
    elif action == "edge":
        record[key] = draw(st.sampled_from(EDGES[key]))
    else:
        record[key] = draw(odd_values)
    return record


BATCH_EDGES: dict[str, list[Any]] = {
    "schema_version": [1, 1.0, True, 2, "1", None, 0],
    "exhibit_id": ["exhibit-002", "Exhibit-001", "-a", "a-", "a", "a" * 64, "a" * 65, 5, None],
    "sent_at": [1_700_000_000, "2026-11-02T08:00:00", "2026-11-02T08:00:00+01:00", None],
    "records": [[], None, {}, [None], [1], "[]"],
    "x": [None, 1],
}


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """A batch with at most one thing spoiled (or, rarely, two), so each spoil is tested."""
    records = draw(st.lists(count_records() | session_records(), min_size=1, max_size=4))
    batch: dict[str, Any] = {
        "schema_version": 1,
        "exhibit_id": EXHIBIT,
        "sent_at": T0.isoformat(),
        "records": records,
    }
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2]))):
        where = draw(st.sampled_from(["record", "record", "record", "batch"]))
        if where == "record":
            n = draw(st.integers(0, len(records) - 1))
            records[n] = draw(spoiled(records[n]))
            continue
        key = draw(st.sampled_from(sorted(BATCH_EDGES)))
        action = draw(st.sampled_from(["edge", "edge", "odd", "remove", "time"]))
        if action == "remove":
            batch.pop(key, None)
        elif action == "time":
            batch["sent_at"] = draw(time_texts())
        elif action == "edge":
            batch[key] = draw(st.sampled_from(BATCH_EDGES[key]))
        else:
            batch[key] = draw(odd_values)
    return json.dumps(batch).encode()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
@example(b"not json")
@example(b"[]")
@example(b'{"schema_version": 1}')
@example(
    b'{"schema_version":1,"exhibit_id":"exhibit-001","sent_at":"2026-11-02T08:00:00Z","records":[]}'
)
@example(
    b'{"schema_version":true,"exhibit_id":"exhibit-001","sent_at":"2026-11-02T08:00:00Z","records":[]}'
)
@example(b"\xff\xfe")
def test_the_fast_reader_agrees_with_the_model(payload: bytes) -> None:
    check(payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(count_records() | session_records(), min_size=1, max_size=20))
def test_agents_payloads_take_the_fast_path(records: list[dict[str, Any]]) -> None:
    batch = CountBatch.model_validate(
        {"exhibit_id": EXHIBIT, "sent_at": T0 + timedelta(seconds=1.5), "records": records}
    )
    payload = batch.to_payload()

    assert read_counts(payload) is not None
    check(payload)


def test_every_edge_value_of_every_field() -> None:
    count = json.loads(
        CountRecord(
            seq=7, input="button", start=T0, mono_start=1.5, seconds=60.0, count=3,
            boot_id="boot-1", clock_synced=True, visit_id=4,
        ).to_payload()
    )  # fmt: skip
    session = json.loads(
        SessionRecord(
            seq=8, start=T0, mono_start=2.5, dwell_s=30.0, interactions=2, boot_id="boot-1",
            clock_synced=False,
        ).to_payload()
    )  # fmt: skip
    batch = {"schema_version": 1, "exhibit_id": EXHIBIT, "sent_at": "2026-11-02T08:00:00Z"}
    variants: list[dict[str, Any]] = [{**batch, "records": [count, session]}]
    for record in (count, session):
        for key, values in EDGES.items():
            without = {k: v for k, v in record.items() if k != key}
            variants.append({**batch, "records": [without]})
            variants += [{**batch, "records": [{**record, key: value}]} for value in values]
    whole = {**batch, "records": [count]}
    for key, values in BATCH_EDGES.items():
        variants.append({k: v for k, v in whole.items() if k != key})
        variants += [{**whole, key: value} for value in values]
    payloads = [json.dumps(variant).encode() for variant in variants]

    assert read_counts(payloads[0]) is not None
    for payload in payloads:
        check(payload)


def test_a_payload_of_another_exhibit_gets_triages_reason() -> None:
    batch = CountBatch.model_validate(
        {
            "exhibit_id": "exhibit-002",
            "sent_at": T0,
            "records": [
                {
                    "type": "count",
                    "seq": 1,
                    "input": "button",
                    "start": T0,
                    "mono_start": 0.0,
                    "seconds": 60.0,
                    "count": 1,
                    "boot_id": "b",
                    "clock_synced": True,
                }
            ],
        }
    )
    inbound = Inbound(TOPIC, batch.to_payload())

    assert sort(inbound) == triage(inbound)
    assert isinstance(sort(inbound), Rejected)
