"""Per-exhibit completeness of one visit, asked for all its exhibits at once: each exhibit
is judged by its own records, its own seq bound, and both record tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from fleet_api.completeness import DataStatus
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import T0, beat, counts, mixed, record, session
from tests.fleet_api.checks import usage
from tests.fleet_api.helpers import register, schedule

EXHIBITS = ("exhibit-001", "exhibit-002", "exhibit-003", "exhibit-004")


def test_each_exhibit_of_a_visit_gets_its_own_verdict(engine: Engine) -> None:
    register(engine, *EXHIBITS)
    visit = schedule(engine, *EXHIBITS, start_h=0, hours=2)
    write_batch(
        engine,
        [
            # A session made after the visit, above the visit's seqs: everything was sent.
            mixed(
                "exhibit-001", record(1, minute=10), record(2, minute=20), session(3, minute=200)
            ),
            # A record made after the visit but with a lower seq (its clock was wrong):
            # it says nothing about seqs after the visit's.
            counts(
                "exhibit-002", record(1, minute=200), record(2, minute=10), record(3, minute=30)
            ),
            # Nothing after the visit, but an empty outbox reported after its end.
            counts("exhibit-003", record(1, minute=15)),
            # Seq 2 missing between the visit's records, a later record notwithstanding.
            counts("exhibit-004", record(1, minute=5), record(3, minute=50), record(4, minute=300)),
            beat("exhibit-003", outbox_depth=0, received_at=T0 + timedelta(hours=2, minutes=1)),
        ],
    )
    result = usage(engine, visit, now=T0 + timedelta(hours=6))
    found = {e.exhibit_id: e.completeness for e in result.exhibits if e.completeness}
    assert {e: c.status for e, c in found.items()} == {
        "exhibit-001": DataStatus.FINAL,
        "exhibit-002": DataStatus.PENDING,
        "exhibit-003": DataStatus.FINAL,
        "exhibit-004": DataStatus.INCOMPLETE,
    }
    assert "made after the visit" in found["exhibit-001"].detail
    assert "empty outbox" in found["exhibit-003"].detail
    assert (found["exhibit-004"].missing_records, found["exhibit-004"].max_seq) == (1, 4)
    assert result.data_status is DataStatus.INCOMPLETE
