"""Baseline (plain paho -> Mosquitto -> plain paho) against the real ingest path.

Both move the identical CountBatch payloads (the week-offline backlog of N exhibits,
batches of up to 500 records) through a fresh Mosquitto with the project's config.
The ingest path is: real agents with their outboxes -> Mosquitto -> fleet API ingestion
(its own process, 1 or 2 workers on a shared subscription) -> committed in the database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, func, insert, select

from bench.backlog import batches, fill, payload_events
from broker.mosquitto import MosquittoProcess, free_port
from broker.topics import Channel, exhibit_topic
from fleet_api.db import make_engine, upgrade
from fleet_api.tables import count_records, exhibit_seq_ranges, exhibits

BATCH_RECORDS = 500
WINDOW = 100
PYTHON = sys.executable
AGENT_PROCESSES = int(os.environ.get("BENCH_AGENT_PROCESSES", str(os.cpu_count() or 1)))
"""OS processes the agents run in: one per core. Fifty agents behind one GIL capped the
agents' side; more processes than cores drained faster alone but took CPU from the
fleet worker (2 cores, SQLite, 1 worker: 1 process 8.2-8.3 s, 2: 4.1-5.4 s, 5: 8.6-8.8 s,
10: 6.9-9.8 s, agents' CPU 2.5, 2.0-2.3, 3.2-3.5, 4.9-5.3 s)."""
DRAIN = [PYTHON, "-m", "bench.drain", "--processes", str(AGENT_PROCESSES)]


@dataclass(frozen=True, slots=True)
class Throughput:
    """Messages and events moved in a number of seconds."""

    label: str
    messages: int
    events: int
    seconds: float
    outbox_mb: float | None = None
    """Outbox files per exhibit after the drain (MB, mean): what retention keeps."""
    agents_rss_mb: float | None = None
    """Peak RSS of the largest agents' process (MB)."""

    @property
    def messages_per_s(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds

    @property
    def events_per_s(self) -> float:
        """Events (records) per second."""
        return self.events / self.seconds


def exhibit_ids(count: int) -> list[str]:
    """``bench-001`` ..."""
    return [f"bench-{n:03d}" for n in range(1, count + 1)]


def outbox_payloads(root: Path, count: int) -> list[tuple[str, bytes]]:
    """(exhibit id, CountBatch payload) for every batch the agents under ``root`` send."""
    return [
        (i, p)
        for i in exhibit_ids(count)
        for p in batches(root / i / "outbox.sqlite3", exhibit_id=i, batch_records=BATCH_RECORDS)
    ]


def prepare(template: Path, count: int) -> int:
    """Fill one outbox per exhibit under ``template``; return the total records."""
    return sum(fill(template / i / "outbox.sqlite3", exhibit_id=i) for i in exhibit_ids(count))


BASELINE_ROUNDS = 10
"""The baseline sends the payloads this many times: 650 messages alone pass in ~0.1 s,
too short a run for a stable rate on a shared machine."""


def baseline(template: Path, count: int, work: Path) -> Throughput:
    """Publish the same payloads with a plain paho client, window 100, to a plain subscriber."""
    payloads = [
        (exhibit_topic(i, Channel.COUNTS), p) for i, p in outbox_payloads(template, count)
    ] * BASELINE_ROUNDS
    events = sum(payload_events(p) for _, p in payloads)
    with MosquittoProcess(work / "mosquitto-baseline") as broker:
        sub = subprocess.Popen(
            [PYTHON, "-m", "bench.subscriber", str(broker.port), str(len(payloads))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sub.stdout is not None
        if sub.stdout.readline().strip() != "ready":
            raise RuntimeError("the baseline subscriber did not start")
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5
        )
        client.max_inflight_messages_set(WINDOW)
        client.max_queued_messages_set(WINDOW)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        start = time.time()
        for topic, payload in payloads:
            while True:  # a full queue answers MQTT_ERR_QUEUE_SIZE: wait for acks, like the agent
                info = client.publish(topic, payload, qos=1)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    break
                time.sleep(0.001)
        out, _ = sub.communicate(timeout=600)
        end = float(out.split()[0])
        client.loop_stop()
        client.disconnect()
    return Throughput("baseline: paho -> Mosquitto -> paho", len(payloads), events, end - start)


FLOOR_BATCH_MESSAGES = 50
"""Messages per transaction in the storage floor: the ingest's batch of messages."""


def storage_floor(template: Path, count: int, work: Path) -> Throughput:
    """The least any durable, idempotent store of these records costs here.

    The same payloads, read from memory (no MQTT), decoded with ``json.loads`` and
    inserted with raw ``sqlite3``: ``INSERT OR IGNORE`` on (exhibit, seq) into a WAL
    database with ``synchronous=FULL``, one commit per ``FLOOR_BATCH_MESSAGES`` messages.
    No validation, placement, rollups or secondary indexes: what the ingest path does
    on top of this is its own cost.
    """
    payloads = [p for _, p in outbox_payloads(template, count)]
    events = sum(payload_events(p) for p in payloads)
    path = work / "floor.sqlite3"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE records (exhibit_id TEXT NOT NULL, seq INTEGER NOT NULL, "
            "boot_id TEXT, input TEXT NOT NULL, start TEXT NOT NULL, seconds REAL NOT NULL, "
            "count INTEGER NOT NULL, PRIMARY KEY (exhibit_id, seq)) WITHOUT ROWID"
        )
        insert = "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)"
        start = time.perf_counter()
        for first in range(0, len(payloads), FLOOR_BATCH_MESSAGES):
            db.execute("BEGIN")
            for payload in payloads[first : first + FLOOR_BATCH_MESSAGES]:
                batch = json.loads(payload)
                exhibit = batch["exhibit_id"]
                db.executemany(
                    insert,
                    [
                        (
                            exhibit,
                            r["seq"],
                            r.get("boot_id"),
                            r["input"],
                            r["start"],
                            r["seconds"],
                            r["count"],
                        )
                        for r in batch["records"]
                    ],
                )
            db.execute("COMMIT")
        seconds = time.perf_counter() - start
        stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        db.close()
    if stored != events:
        raise RuntimeError(f"the storage floor stored {stored} of {events} records")
    label = "storage floor: json.loads + raw sqlite3 INSERT OR IGNORE, no MQTT"
    return Throughput(label, len(payloads), events, seconds)


@contextmanager
def fleet_api(
    database_url: str, mqtt_port: int, *, workers: int, log: Path, custody: bool = True
) -> Iterator[None]:
    """``workers`` fleet API processes ingesting from Mosquitto (shared subscription if > 1).

    Yields once every worker reports its ingestion connected and subscribed.
    """
    processes, ports = [], []
    for n in range(workers):
        env = dict(os.environ)
        env.update(
            FLEET_DATABASE_URL=database_url,
            FLEET_MQTT_URL=f"mqtt://127.0.0.1:{mqtt_port}",
            FLEET_MQTT_CLIENT_ID=f"bench-ingest-{n}",
            FLEET_CUSTODY_ACKS="true" if custody else "false",
        )
        if workers > 1:
            env["FLEET_MQTT_SHARE_GROUP"] = "ingest"
        ports.append(free_port())
        command = [PYTHON, "-m", "fleet_api", "serve", "--port", str(ports[-1])]
        with log.open("ab") as out:
            processes.append(
                subprocess.Popen(
                    [*command, "--log-level", "warning"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        for port in ports:
            wait_ingesting(port)
        yield
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)


def wait_ingesting(port: int, timeout: float = 60.0) -> None:
    """Poll /healthz until the worker's ingestion is connected and subscribed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            if health.get("ingestion") == "connected":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"fleet API on port {port} did not start ingesting within {timeout}s")


SEQS_RECEIVED = select(func.sum(exhibit_seq_ranges.c.last_seq - exhibit_seq_ranges.c.first_seq + 1))
"""Seqs stored, over all exhibits (the bench sends count records only)."""


def ingest_path(
    template: Path,
    count: int,
    work: Path,
    *,
    database_url: str,
    workers: int,
    label: str,
    custody: bool = True,
) -> Throughput:
    """Drain real agents' outboxes through Mosquitto into the fleet database; time to commit.

    The clock starts when the agents start (after their imports) and stops when the last
    record is committed in the fleet database. ``custody``: the fleet confirms each batch
    after its commit and the agents wait for that (their window holds a message until
    then, and they keep what is confirmed: retention); else the broker's PUBACK confirms
    and the agents delete (before issue 14).
    """
    data = work / f"agents-{uuid.uuid4().hex[:6]}"
    shutil.copytree(template, data)
    ids = exhibit_ids(count)
    payloads = [p for _, p in outbox_payloads(data, count)]
    total = sum(payload_events(p) for p in payloads)
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as db:
        db.execute(count_records.delete())
        db.execute(exhibits.delete())
        db.execute(
            insert(exhibits), [{"id": i, "name": i, "created_at": datetime.now(UTC)} for i in ids]
        )
    with (
        MosquittoProcess(work / f"mosquitto-{uuid.uuid4().hex[:6]}") as broker,
        fleet_api(
            database_url, broker.port, workers=workers, log=work / "api.log", custody=custody
        ),
    ):
        agents = subprocess.Popen(
            [
                *DRAIN,
                "--custody",
                "fleet" if custody else "broker",
                f"mqtt://127.0.0.1:{broker.port}",
                str(data),
                *ids,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        # A plain engine polls: make_engine's BEGIN IMMEDIATE would take SQLite's write
        # lock every 20 ms, stealing it from the ingest workers (and time out against them).
        # It reads the seq ranges, committed with the records: a few rows, where counting
        # the records every 20 ms kept one of the two cores busy scanning.
        poller = create_engine(database_url)
        received = 0
        deadline = time.monotonic() + 600
        while received < total and time.monotonic() < deadline:
            time.sleep(0.02)
            with poller.connect() as db:
                received = db.execute(SEQS_RECEIVED).scalar_one() or 0
        end = time.time()
        with poller.connect() as db:
            stored = db.execute(select(func.count()).select_from(count_records)).scalar_one()
        poller.dispose()
        out, _ = agents.communicate(timeout=600)
    engine.dispose()
    if stored != total:
        raise RuntimeError(f"{label}: stored {stored} of {total} records")
    start, _end, drained, peak_kb = out.split()
    if drained != "True":
        raise RuntimeError(f"{label}: an agent's outbox did not drain")
    outbox = sum(f.stat().st_size for f in data.rglob("outbox.sqlite3*")) / count / 1e6
    return Throughput(
        label,
        len(payloads),
        total,
        end - float(start),
        outbox_mb=outbox,
        agents_rss_mb=int(peak_kb) / 1024,
    )


def agents_only(template: Path, count: int, work: Path) -> Throughput:
    """Real agents -> Mosquitto -> the plain paho subscriber: the agents' side alone.

    Tells whether the agents' process (50 agents in one interpreter) or the fleet
    ingestion limits the ingest path's ratio to the baseline.
    """
    data = work / f"agents-{uuid.uuid4().hex[:6]}"
    shutil.copytree(template, data)
    ids = exhibit_ids(count)
    payloads = [p for _, p in outbox_payloads(data, count)]
    events = sum(payload_events(p) for p in payloads)
    with MosquittoProcess(work / f"mosquitto-{uuid.uuid4().hex[:6]}") as broker:
        sub = subprocess.Popen(
            [PYTHON, "-m", "bench.subscriber", str(broker.port), str(len(payloads))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sub.stdout is not None
        if sub.stdout.readline().strip() != "ready":
            raise RuntimeError("the subscriber did not start")
        # Nobody sends custody here: the PUBACK confirms (no fleet behind the broker).
        agents = subprocess.Popen(
            [*DRAIN, "--custody", "broker", f"mqtt://127.0.0.1:{broker.port}", str(data), *ids],
            stdout=subprocess.PIPE,
            text=True,
        )
        out, _ = sub.communicate(timeout=600)
        end = float(out.split()[0])
        agents_out, _ = agents.communicate(timeout=600)
    start = float(agents_out.split()[0])
    label = "agents only: agents -> Mosquitto -> paho"
    return Throughput(label, len(payloads), events, end - start)
