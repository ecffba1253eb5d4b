"""Two ingest workers in one MQTT v5 share group against the real Mosquitto, on both
backends: late clock references and replays spread over both workers still leave every
record placed once, rollups equal to the records, and one seq range per exhibit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from broker.mosquitto import MosquittoProcess
from fleet_api.completeness import SeqRange
from fleet_api.store.seq_ranges import load_ranges
from tests.fleet_api.builders import T0, beat, counts, unsynced
from tests.fleet_api.checks import assert_rollups_match_records, usage, visits_of
from tests.fleet_api.fakes import eventually
from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.test_mqtt_ingest import Publisher, running_api

EXHIBITS = ("exhibit-001", "exhibit-002", "exhibit-003")
PER_EXHIBIT = 300


async def test_two_workers_place_and_roll_up_every_record_once(
    db_url: str, mosquitto: MosquittoProcess
) -> None:
    shared = {"mqtt_share_group": "ingest"}
    async with (
        running_api(db_url, mosquitto, mqtt_client_id="fleet-ingest-1", **shared) as one,
        running_api(db_url, mosquitto, mqtt_client_id="fleet-ingest-2", **shared) as two,
    ):
        engine: Engine = one.state.engine
        register(engine, *EXHIBITS)
        visit = schedule(engine, *EXHIBITS, start_h=0, hours=6)
        # Every exhibit's clock restarted a day behind; each record is sent twice, and a
        # synced heartbeat of the boot arrives half way through.
        messages = []
        for exhibit_id in EXHIBITS:
            for seq in range(1, PER_EXHIBIT + 1, 10):
                batch = counts(
                    exhibit_id,
                    *(
                        unsynced(s, wall=T0 - timedelta(days=1, minutes=-s), mono=60.0 * s)
                        for s in range(seq, seq + 10)
                    ),
                )
                messages += [batch, batch]
            messages.insert(len(messages) - PER_EXHIBIT // 10, beat(exhibit_id, at=T0, uptime_s=0))
        publisher = Publisher(mosquitto.port)
        try:
            publisher.send(*messages)
        finally:
            publisher.close()
        a, b = one.state.ingest_stats, two.state.ingest_stats
        await eventually(lambda: a.acked + b.acked == len(messages), timeout=30)
        assert a.messages > 0
        assert b.messages > 0
        assert a.records_inserted + b.records_inserted == len(EXHIBITS) * PER_EXHIBIT

        assert set(visits_of(engine).values()) == {visit}
        assert usage(engine, visit).total == len(EXHIBITS) * PER_EXHIBIT
        assert_rollups_match_records(engine)
        with engine.connect() as connection:
            ranges = load_ranges(connection, EXHIBITS)
        assert ranges == {e: [SeqRange(1, PER_EXHIBIT)] for e in EXHIBITS}
