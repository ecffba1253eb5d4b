"""``fleet-api backup`` and ``restore``: consistent while ingestion writes, on both backends.

A backup taken while a writer commits batch after batch is one snapshot: in it, the
records, the seq ranges and the rollups agree (they are written in one transaction).
A restore brings back exactly what the backup held, migrates it, and stores one resend
request per registered exhibit from the first seq the restored database lacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from fleet_api.backup import backup, prune
from fleet_api.cli import main
from fleet_api.db import make_engine, upgrade
from fleet_api.store.ingest import write_batch
from fleet_api.tables import count_records, exhibit_seq_ranges
from fleet_api.tables_custody import resend_requests
from fleet_api.tables_domain import audit_log
from tests.fleet_api.builders import counts, record
from tests.fleet_api.helpers import register, stored_records

EXHIBITS = ("exhibit-001", "exhibit-002", "exhibit-003")


class Writer(threading.Thread):
    """Ingestion stand-in: commits a batch of 50 records per exhibit, again and again."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.next_seq = 1
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                first = self.next_seq
                batch = [
                    counts(exhibit_id, *(record(s) for s in range(first, first + 50)))
                    for exhibit_id in EXHIBITS
                ]
                write_batch(self.engine, batch)
                self.next_seq = first + 50
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def writing(engine: Engine) -> Iterator[Writer]:
    register(engine, *EXHIBITS)
    writer = Writer(engine)
    writer.start()
    yield writer
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error


def snapshot_agrees(engine: Engine) -> int:
    """The records stored, after checking the ranges and every exhibit agree with them."""
    with engine.connect() as connection:
        records = connection.execute(select(func.count()).select_from(count_records)).scalar_one()
        covered = connection.execute(
            select(
                func.coalesce(
                    func.sum(exhibit_seq_ranges.c.last_seq - exhibit_seq_ranges.c.first_seq + 1),
                    0,
                )
            )
        ).scalar_one()
        per_exhibit = dict(
            connection.execute(
                select(count_records.c.exhibit_id, func.count()).group_by(
                    count_records.c.exhibit_id
                )
            ).all()
        )
    assert records == covered
    assert len(set(per_exhibit.values())) <= 1, per_exhibit  # whole batches only
    return int(records)


def restore_url(url: str, monkeypatch: pytest.MonkeyPatch, file: Path) -> int:
    monkeypatch.setenv("FLEET_DATABASE_URL", url)
    return main(["restore", str(file)])


def test_backups_taken_while_ingesting_are_consistent_and_restore_exactly(
    engine: Engine,
    db_url: str,
    writing: Writer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    taken: list[tuple[Path, int]] = []
    for n in range(3):
        while writing.next_seq < 200 * (n + 1):
            writing.join(0.05)
        file = backup(db_url, tmp_path / f"b{n}")
        copy = make_engine(f"sqlite:///{file}") if file.read_bytes()[:6] == b"SQLite" else None
        if copy is not None:  # a SQLite backup can be opened as it is
            taken.append((file, snapshot_agrees(copy)))
            copy.dispose()
        else:
            taken.append((file, -1))
    writing.stop.set()
    writing.join(30)
    later = stored_records(engine)
    file, held = taken[1]
    assert restore_url(db_url, monkeypatch, file) == 0
    restored = snapshot_agrees(engine)
    assert held in (-1, restored)
    assert 0 < restored < len(later)
    assert set(stored_records(engine)) < set(later)
    with engine.connect() as connection:
        asked = dict(
            connection.execute(
                select(resend_requests.c.exhibit_id, resend_requests.c.from_seq).where(
                    resend_requests.c.reason == "restore",
                    resend_requests.c.sent_at.is_(None),
                )
            ).all()
        )
        audited = connection.execute(
            select(func.count()).where(audit_log.c.action == "fleet.restore")
        ).scalar_one()
    first_lacking = restored // len(EXHIBITS) + 1
    assert asked == dict.fromkeys(EXHIBITS, first_lacking)
    assert audited == 1
    out = capsys.readouterr().out
    assert f"exhibit-001\tresend from seq {first_lacking}" in out


def test_a_backup_directory_keeps_the_newest(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(engine, "exhibit-001")
    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("FLEET_DATABASE_URL", db_url)
    for _ in range(3):
        assert main(["backup", str(folder), "--keep", "2"]) == 0
        time.sleep(1.05)  # backups are named by the second
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2
    assert not any(n.endswith(".partial") for n in names)
    (folder / "fleet-notes.txt").write_text("not a backup")
    assert [p.name for p in prune(folder, keep=1)] == names[:1]
    assert (folder / "fleet-notes.txt").exists()


def test_a_bad_backup_or_setting_is_one_line_and_changes_nothing(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register(engine, "exhibit-001")
    write_batch(engine, [counts("exhibit-001", record(1), record(2))])
    before = stored_records(engine)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("FLEET_DATABASE_URL", db_url)
    for argv in (
        ["restore", str(junk)],
        ["restore", str(tmp_path / "missing")],
        ["backup", str(tmp_path / "file.db"), "--keep", "2"],
        ["resend", "ghost"],
        ["resend", "exhibit-001", "--from-seq", "0"],
    ):
        code = main(argv)
        err = capsys.readouterr().err
        assert code in (1, 2), (argv, err)
        assert err.count("\n") == 1, err
        assert "Traceback" not in err
    assert stored_records(engine) == before
    assert not (tmp_path / "file.db").exists()
    upgrade(engine)
    assert main(["resend", "exhibit-001"]) == 0
    assert "exhibit-001\tresend from seq 3\t" in capsys.readouterr().out
