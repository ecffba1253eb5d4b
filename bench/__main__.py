"""``python -m bench`` (``make bench``): run the benchmarks, print a table, write the report."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import agent, bounce, ingest, queries, querydata
from bench.machine import describe

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


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
    # The agents' side alone: is the agents' process or the fleet ingestion the limit?
    rows.append(_row(ingest.agents_only(template, exhibits, work), base))
    # What durable, idempotent storage of these records costs at the least, same run.
    rows.append(_row(median_of(3, lambda: ingest.storage_floor(template, exhibits, work)), base))
    for backend in ("sqlite", "postgresql"):
        for workers in (1, 2):
            url = (
                f"sqlite:///{work / f'fleet-{workers}.db'}"
                if backend == "sqlite"
                else querydata.new_postgres_database("bench")
            )
            label = f"ingest path: agents -> Mosquitto -> {backend}, {workers} worker(s)"
            try:
                result = ingest.ingest_path(
                    template, exhibits, work, database_url=url, workers=workers, label=label
                )
            finally:
                if backend == "postgresql":
                    querydata.drop_postgres(url)
            rows.append(_row(result, base))
    backlog = next(r for r in rows if "sqlite, 1 worker" in r[0])
    console.print(
        f"backlog: {exhibits} exhibits x a school week offline drained and committed in "
        f"{backlog[3]} s (target < 30 s)"
    )
    return rows


def custody_rows(exhibits: int, work: Path, console: Console) -> tuple[list[list[str]], str]:
    """The ingest path with and without the fleet's custody acknowledgement, same run.

    Before issue 14 the broker's PUBACK confirmed a record and the agent deleted it; now
    the fleet confirms after its commit, the agent's window waits for that, and the agent
    keeps what is confirmed (retention). Alternated, three of each, medians compared.
    """
    template = work / "custody-template"
    ingest.prepare(template, exhibits)
    runs: dict[bool, list[ingest.Throughput]] = {False: [], True: []}
    for run in range(3):
        for custody in (False, True):
            url = f"sqlite:///{work / f'custody-{run}-{custody}.db'}"  # a fresh database each
            label = (
                "ingest path, sqlite, 1 worker: the fleet confirms after its commit (now)"
                if custody
                else "ingest path, sqlite, 1 worker: the broker's PUBACK confirms (before)"
            )
            runs[custody].append(
                ingest.ingest_path(
                    template,
                    exhibits,
                    work,
                    database_url=url,
                    workers=1,
                    label=label,
                    custody=custody,
                )
            )
    before, after = (sorted(runs[c], key=lambda r: r.seconds)[1] for c in (False, True))
    ratio = after.events_per_s / before.events_per_s
    rows = [
        [
            r.label,
            f"{r.events_per_s:,.0f}",
            f"{r.seconds:.2f}",
            f"{r.outbox_mb:.2f}",
            f"{r.agents_rss_mb:.0f}",
        ]
        for r in (before, after)
    ]
    verdict = "met" if ratio >= CUSTODY_TARGET else "MISSED"
    note = (
        f"Custody on the ingest path: {ratio:.3f} of the events/s without it "
        f"(target >= {CUSTODY_TARGET}: {verdict}); the {exhibits}-exhibit school-week backlog "
        f"committed in {after.seconds:.1f} s with it (target < 30 s: "
        f"{'met' if after.seconds < 30 else 'MISSED'}). Medians of three alternated runs."
    )
    console.print(note)
    return rows, note


CUSTODY_TARGET = 0.90
CUSTODY_HEADERS = [
    "path",
    "events/s",
    "seconds",
    "outbox per exhibit after drain (MB)",
    "agents' process peak RSS (MB)",
]


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


def report(
    machine: dict[str, str],
    rows: list[list[str]],
    notes: list[str],
    latencies: list[queries.Latency],
    agent_figures: dict[str, Any] | None,
    sections: list[str],
) -> str:
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
        *_markdown(HEADERS, rows),
        "",
        *notes,
        "",
    ]
    if latencies:
        lines += ["## Queries", "", *_markdown(QUERY_HEADERS, _query_rows(latencies)), ""]
    if agent_figures:
        lines += ["## Exhibit agent", "", *_markdown(AGENT_HEADERS, _agent_rows(agent_figures)), ""]
    lines += sections
    return "\n".join(lines)


def _markdown(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


QUERY_HEADERS = ["backend", "endpoint", "calls", "p50 ms", "p95 ms", "target p95"]


def _query_rows(latencies: list[queries.Latency]) -> list[list[str]]:
    return [
        [
            item.backend,
            item.endpoint,
            str(item.calls),
            f"{item.p50_ms}",
            f"{item.p95_ms}",
            f"< {item.target_p95_ms:g} ms: {'met' if item.met else 'MISSED'}",
        ]
        for item in latencies
    ]


AGENT_HEADERS = ["measure", "value", "target"]


def _agent_rows(figures: dict[str, Any]) -> list[list[str]]:
    rss = "met" if figures["rss_ok"] else "MISSED"
    cpu = "met" if figures["cpu_ok"] else "MISSED"
    return [
        ["broker", "Mosquitto" if figures["broker"] else "none (offline)", ""],
        ["presses (burst / isolated)", f"{figures['presses']} / {figures['paced_presses']}", ""],
        ["RSS after run (MB)", f"{figures['rss_mb']}", ""],
        ["peak RSS (MB)", f"{figures['peak_rss_mb']}", f"< {agent.RSS_TARGET_MB:g}: {rss}"],
        [
            "of which private / file-backed (MB)",
            f"{figures['private_mb']} / {figures['file_backed_mb']}",
            "",
        ],
        ["CPU per interaction, burst (ms)", f"{figures['cpu_ms_per_interaction_burst']}", ""],
        [
            "CPU per interaction, isolated (ms)",
            f"{figures['cpu_ms_per_interaction_isolated']}",
            f"< {agent.CPU_TARGET_MS:g}: {cpu}",
        ],
        ["press -> durable commit p50 (ms)", f"{figures['latency_p50_ms']}", ""],
        ["press -> durable commit p99 (ms)", f"{figures['latency_p99_ms']}", ""],
        *[list(row) for row in bounce.rows(figures)],
    ]


SECTIONS = Path(__file__).resolve().parent / "targets.md"


def main() -> None:
    """Run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--exhibits", type=int, default=50)
    parser.add_argument(
        "--days",
        type=int,
        default=querydata.DEFAULT_DAYS,
        help=f"school days of stored events for the queries ({querydata.DEFAULT_DAYS}: ~10M)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=("ingest", "custody", "queries", "agent")
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    console = Console()
    machine = describe()
    started = time.monotonic()
    rows: list[list[str]] = []
    if "ingest" not in args.skip:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            rows = ingest_rows(args.exhibits, Path(tmp), console)
        table = Table(title="MQTT ingest (same payloads, same run)")
        for header in HEADERS:
            table.add_column(header)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    custody: list[list[str]] = []
    custody_note = ""
    if "custody" not in args.skip:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            custody, custody_note = custody_rows(args.exhibits, Path(tmp), console)
        table = Table(title="custody on the ingest path (same run)")
        for header in CUSTODY_HEADERS:
            table.add_column(header)
        for row in custody:
            table.add_row(*row)
        console.print(table)
    latencies: list[queries.Latency] = []
    generation: dict[str, str] = {}
    if "queries" not in args.skip:
        console.print(
            f"queries over {querydata.records_for(args.days):,} count records ({args.days} days)"
        )
        latencies, generation = queries.measure(days=args.days, console=console)
        table = Table(title=f"queries over {querydata.records_for(args.days):,} stored events")
        for header in QUERY_HEADERS:
            table.add_column(header)
        for row in _query_rows(latencies):
            table.add_row(*row)
        console.print(table)
    agent_figures: dict[str, Any] | None = None
    if "agent" not in args.skip:
        agent_figures = agent.measure()
        agent._print(agent_figures)
    notes = [
        f"Payloads: the week-offline backlog of {args.exhibits} exhibits (one bucket per input "
        "per minute, 7-hour days, 5 days, 3 inputs), in CountBatch messages of up to "
        f"{ingest.BATCH_RECORDS} records; in-flight window {ingest.WINDOW}. The baseline sends "
        f"them {ingest.BASELINE_ROUNDS} times over (its rates are per message and event "
        "sent) and is the median of 3 runs. The backlog figure (target < 30 s) is the "
        "`seconds` of the SQLite 1-worker row.",
    ]
    if latencies:
        notes += [
            "",
            f"Queries: {querydata.records_for(args.days):,} count records "
            f"({args.days} school days, "
            f"{querydata.EXHIBITS} exhibits x {len(querydata.INPUTS)} inputs, "
            f"{querydata.VISITS_PER_DAY} one-day visits of {querydata.EXHIBITS_PER_VISIT} exhibits "
            "a day) generated straight into each database with their rollups and seq ranges "
            "(`bench/querydata.py`); generation "
            + ", ".join(f"{k} {v}" for k, v in generation.items())
            + ". Endpoints called in-process through httpx's ASGITransport; "
            f"{queries.USAGE_CALLS} random visits, {queries.REPORT_CALLS} random periods each.",
        ]
    if custody:
        notes += [
            "",
            "## Custody (issue 14)",
            "",
            *_markdown(CUSTODY_HEADERS, custody),
            "",
            custody_note + " The outbox figure is the agent's SQLite files after draining "
            "a school week: with the broker's PUBACK the records are deleted, with custody "
            "they are kept as confirmed records for `retention_days` (within "
            "`retention_max_mb`). The RSS is the largest agents' process (50 agents over "
            f"{ingest.AGENT_PROCESSES} processes), not one Pi's agent.",
        ]
    notes += ["", f"Total bench time {time.monotonic() - started:.0f} s."]
    if not args.no_write:
        sections = SECTIONS.read_text().splitlines() if SECTIONS.exists() else []
        REPORT.write_text(report(machine, rows, notes, latencies, agent_figures, sections))
        console.print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
