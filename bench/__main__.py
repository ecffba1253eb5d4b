"""``python -m bench`` (``make bench``): run the benchmarks, print a table, write the report."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from bench import ingest
from bench.machine import describe

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_database() -> str:
    """A fresh PostgreSQL database for this run; its SQLAlchemy URL."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def median_of(runs: int, measure: Callable[[], ingest.Throughput]) -> ingest.Throughput:
    """The run with the median duration of ``runs`` runs."""
    results = sorted((measure() for _ in range(runs)), key=lambda r: r.seconds)
    return results[len(results) // 2]


def ingest_rows(exhibits: int, work: Path, console: Console) -> list[list[str]]:
    """Baseline and ingest path on SQLite and PostgreSQL, 1 and 2 workers."""
    template = work / "template"
    records = ingest.prepare(template, exhibits)
    console.print(f"prepared {exhibits} outboxes with a school week offline: {records} records")
    base = median_of(3, lambda: ingest.baseline(template, exhibits, work))
    rows = [_row(base, base)]
    for backend in ("sqlite", "postgresql"):
        for workers in (1, 2):
            url = (
                f"sqlite:///{work / f'fleet-{workers}.db'}"
                if backend == "sqlite"
                else postgres_database()
            )
            label = f"ingest path: agents -> Mosquitto -> {backend}, {workers} worker(s)"
            result = ingest.ingest_path(
                template, exhibits, work, database_url=url, workers=workers, label=label
            )
            rows.append(_row(result, base))
    backlog = next(r for r in rows if "sqlite, 1 worker" in r[0])
    console.print(
        f"backlog: {exhibits} exhibits x a school week offline drained and committed in "
        f"{backlog[3]} s (target < 30 s)"
    )
    return rows


def _row(result: ingest.Throughput, base: ingest.Throughput) -> list[str]:
    ratio = result.messages_per_s / base.messages_per_s
    return [
        result.label,
        f"{result.messages}",
        f"{result.events}",
        f"{result.seconds:.2f}",
        f"{result.messages_per_s:,.0f}",
        f"{result.events_per_s:,.0f}",
        f"{ratio:.3f}",
    ]


HEADERS = ["path", "messages", "events", "seconds", "msg/s", "events/s", "ratio to baseline"]


def report(machine: dict[str, str], rows: list[list[str]], notes: list[str]) -> str:
    """docs/benchmarks.md as Markdown."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Every throughput "
        "is reported next to the baseline measured in the same run, as a ratio, because these "
        "machines are shared and noisy.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "## MQTT ingest",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "| " + " | ".join("---" for _ in HEADERS) + " |",
        *["| " + " | ".join(row) + " |" for row in rows],
        "",
        *notes,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--exhibits", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    console = Console()
    machine = describe()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rows = ingest_rows(args.exhibits, Path(tmp), console)
    table = Table(title="MQTT ingest (same payloads, same run)")
    for header in HEADERS:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    notes = [
        f"Payloads: the week-offline backlog of {args.exhibits} exhibits (one bucket per input "
        "per minute, 7-hour days, 5 days, 3 inputs), in CountBatch messages of up to "
        f"{ingest.BATCH_RECORDS} records; in-flight window {ingest.WINDOW}. The baseline is the "
        f"median of 3 runs. Total bench time {time.monotonic() - started:.0f} s.",
    ]
    if not args.no_write:
        REPORT.write_text(report(machine, rows, notes))
        console.print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
