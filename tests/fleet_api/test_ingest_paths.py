"""Both ways of reading a CountBatch store exactly the same thing.

Agents' payloads are read straight to rows (``fleet_api.record_rows``); any other valid
form goes through the pydantic model. Here every message of a random mix (replays, seqs
repeated inside a batch, unsynced clocks, late references, tags, sessions, visits) goes
to ``exhibit-001`` in the agents' form and to its twin ``exhibit-002`` in another valid
form (times with a +01:00 offset, whole numbers for floats), in the same write. Every
stored row, rollup cell, seq range and clock reference of the two must be equal.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select

from broker.messages import CountRecord, SessionRecord
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.record_rows import read_counts
from fleet_api.store.ingest import write_batch
from fleet_api.tables import (
    boot_clocks,
    count_records,
    exhibit_seq_ranges,
    session_hourly,
    session_records,
    usage_hourly,
)
from tests.fleet_api.builders import T0, beat, record, session, unsynced
from tests.fleet_api.checks import assert_rollups_match_records
from tests.fleet_api.helpers import register, schedule

FAST, MODEL = "exhibit-001", "exhibit-002"
RECEIVED = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def twins(records: list[CountRecord | SessionRecord], *, n: int) -> list[Inbound]:
    """The same batch for both exhibits: the agents' form, and a form only the model reads."""
    canonical = [json.loads(r.to_payload()) for r in records]
    other = []
    for body in canonical:
        start = datetime.fromisoformat(body["start"]).astimezone(CET)
        body = {**body, "start": start.isoformat()}
        for key in ("mono_start", "seconds", "dwell_s"):
            if key in body and float(body[key]).is_integer():
                body[key] = int(body[key])
        other.append(body)
    received_at = RECEIVED + timedelta(seconds=n)
    messages = []
    for exhibit_id, bodies in ((FAST, canonical), (MODEL, other)):
        payload = json.dumps(
            {
                "schema_version": 1,
                "exhibit_id": exhibit_id,
                "sent_at": T0.isoformat(),
                "records": bodies,
            }
        ).encode()
        messages.append(
            Inbound(exhibit_topic(exhibit_id, Channel.COUNTS), payload, received_at=received_at)
        )
    assert read_counts(messages[0].payload) is not None
    assert read_counts(messages[1].payload) is None
    return messages


def random_record(rng: random.Random, seq: int, visits: list[int]) -> CountRecord | SessionRecord:
    minute = rng.choice([rng.uniform(-120, 600), float(rng.randint(-120, 600))])
    boot = rng.choice(["boot-a", "boot-b"])
    tag = rng.choice([None, None, 999, *visits])
    if rng.random() < 0.4:
        wall = T0 + timedelta(minutes=minute, hours=rng.uniform(-30, 30))
        if rng.random() < 0.3:
            return session(seq, synced=False, wall=wall, mono=60.0 * abs(minute), boot_id=boot)
        return unsynced(
            seq, wall=wall, mono=60.0 * abs(minute), boot_id=boot, count=rng.randint(0, 9)
        )
    if rng.random() < 0.3:
        return session(seq, minute=minute, dwell_s=rng.uniform(0, 300), boot_id=boot, visit_id=tag)
    return record(
        seq,
        minute=minute,
        count=rng.randint(0, 9),
        input=rng.choice(["button", "motion"]),
        boot_id=boot,
        visit_id=tag,
    )


def state_of(engine: Engine, exhibit_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the exhibit has, without its id, sorted."""
    found = {}
    with engine.connect() as connection:
        for table in (
            count_records,
            session_records,
            usage_hourly,
            session_hourly,
            exhibit_seq_ranges,
            boot_clocks,
        ):
            found[table.name] = sorted(
                _comparable(row)
                for row in connection.execute(
                    select(table).where(table.c.exhibit_id == exhibit_id)
                ).mappings()
            )
    return found


def _comparable(row: Any) -> tuple[Any, ...]:
    return tuple(value for name, value in row.items() if name != "exhibit_id")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_and_the_model_path_store_the_same(engine: Engine, seed: int) -> None:
    register(engine, FAST, MODEL)
    rng = random.Random(seed)
    visits = [schedule(engine, FAST, MODEL, start_h=0, hours=3)]
    sent: list[list[Inbound]] = []
    seq = 0
    for step in range(16):
        action = rng.random()
        if action < 0.55:
            records = []
            for _ in range(rng.randint(1, 30)):
                seq += rng.choice([1, 1, 1, 2])
                records.append(random_record(rng, seq, visits))
            if rng.random() < 0.2:  # a seq repeated inside a batch: the first one counts
                records.append(random_record(rng, records[0].seq, visits))
            sent.append(twins(records, n=step))
            write_batch(engine, sent[-1])
        elif action < 0.7 and sent:
            write_batch(engine, [m for pair in rng.sample(sent, min(2, len(sent))) for m in pair])
        elif action < 0.85:
            boot = rng.choice(["boot-a", "boot-b"])
            at = T0 + timedelta(minutes=rng.uniform(0, 600))
            uptime = rng.uniform(0, 9e4)
            beats = [
                beat(e, boot_id=boot, at=at, uptime_s=uptime, received_at=RECEIVED)
                for e in (FAST, MODEL)
            ]
            write_batch(engine, beats)
        else:
            visits.append(schedule(engine, FAST, MODEL, start_h=4 * step + 4))

    fast, model = state_of(engine, FAST), state_of(engine, MODEL)
    assert fast["count_records"], "the mix should store records"
    assert fast == model
    assert_rollups_match_records(engine)
