"""Query latency over millions of stored events: the visit usage endpoint and the funder report.

    python -m bench.queries [--days 530] [--backend sqlite|postgresql|both]

The data comes from ``bench/querydata.py`` (10,017,000 count records for 530 days). The
endpoints are timed in-process through httpx's ASGITransport (the real app as
``fleet-api serve`` runs it, ingestion off, an admin bootstrap token):
``GET /visits/{id}/usage`` for random visits, ``GET /reports/funder`` for random
one-month and one-year periods.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from bench.querydata import (
    DEFAULT_DAYS,
    VISITS_PER_DAY,
    drop_postgres,
    postgres_database,
    records_for,
    school_days,
    sqlite_database,
)
from fleet_api.main import create_app
from fleet_api.settings import Settings

TOKEN = "bench-admin-token-" + "x" * 32
USAGE_CALLS, REPORT_CALLS = 200, 50
USAGE_P95_MS, FUNDER_P95_MS = 50.0, 200.0


@dataclass(frozen=True, slots=True)
class Latency:
    """p50/p95 of one endpoint on one backend."""

    backend: str
    endpoint: str
    calls: int
    p50_ms: float
    p95_ms: float
    target_p95_ms: float

    @property
    def met(self) -> bool:
        """Whether p95 is under the target."""
        return self.p95_ms < self.target_p95_ms


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _time_calls(
    url: str, backend: str, days: int, *, usage_calls: int, report_calls: int, seed: int = 9
) -> list[Latency]:
    settings = Settings(
        database_url=url,
        ingest_enabled=False,
        bootstrap_admin_token=TOKEN,
    )
    app = create_app(settings, freeze_gc=True)  # as `fleet-api serve` runs it
    rng = random.Random(seed)  # noqa: S311 (test data)
    visit_count = days * VISITS_PER_DAY
    span = school_days(days)
    first, last = span[0], span[-1]
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            # Warm up: the first calls pay for imports, the pool and the page cache.
            for _ in range(5):
                (
                    await client.get(f"/visits/{rng.randint(1, visit_count)}/usage")
                ).raise_for_status()
            timings: list[float] = []
            for _ in range(usage_calls):
                path = f"/visits/{rng.randint(1, visit_count)}/usage"
                started = time.perf_counter()
                response = await client.get(path)
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
            results.append(_latency(backend, "GET /visits/{id}/usage", timings, USAGE_P95_MS))
            for label, months in (("one month", 1), ("one year", 12)):
                timings = []
                for n in range(report_calls + 2):
                    offset = rng.randint(0, max(0, (last - first).days - 31 * months))
                    start = first + timedelta(days=offset)
                    end = _add_months(start, months)
                    params = {"from": f"{start}T00:00:00+00:00", "to": f"{end}T00:00:00+00:00"}
                    started = time.perf_counter()
                    response = await client.get("/reports/funder", params=params)
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    if n >= 2:  # two warm-up calls
                        timings.append(elapsed)
                results.append(
                    _latency(backend, f"GET /reports/funder ({label})", timings, FUNDER_P95_MS)
                )
    return results


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _latency(backend: str, endpoint: str, timings: list[float], target: float) -> Latency:
    return Latency(
        backend,
        endpoint,
        len(timings),
        round(1000 * statistics.median(timings), 1),
        round(1000 * _percentile(timings, 0.95), 1),
        target,
    )


def measure(
    *,
    days: int = DEFAULT_DAYS,
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
    usage_calls: int = USAGE_CALLS,
    report_calls: int = REPORT_CALLS,
    console: Any = None,
) -> tuple[list[Latency], dict[str, str]]:
    """Generate (or reuse) the data and time the endpoints; latencies and generation notes."""
    from rich.console import Console

    console = console or Console()
    latencies: list[Latency] = []
    generation: dict[str, str] = {}
    for backend in backends:
        if backend == "sqlite":
            url, seconds = sqlite_database(days, console)
            generation[backend] = "cached" if seconds is None else f"{seconds:.0f} s"
            latencies += asyncio.run(
                _time_calls(url, backend, days, usage_calls=usage_calls, report_calls=report_calls)
            )
        else:
            url, seconds = postgres_database(days)
            generation[backend] = f"{seconds:.0f} s"
            try:
                latencies += asyncio.run(
                    _time_calls(
                        url, backend, days, usage_calls=usage_calls, report_calls=report_calls
                    )
                )
            finally:
                drop_postgres(url)
        console.print(f"queries on {backend}: data generated in {generation[backend]}")
    return latencies, generation


def main() -> None:
    """``python -m bench.queries``: print the latency table."""
    import argparse

    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="python -m bench.queries")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    console = Console()
    console.print(f"{records_for(args.days):,} count records over {args.days} school days")
    latencies, _ = measure(days=args.days, backends=backends, console=console)
    table = Table(title="query latency")
    for header in ("backend", "endpoint", "calls", "p50 ms", "p95 ms", "target p95"):
        table.add_column(header)
    for item in latencies:
        table.add_row(
            item.backend,
            item.endpoint,
            str(item.calls),
            f"{item.p50_ms}",
            f"{item.p95_ms}",
            f"< {item.target_p95_ms:g} ms ({'met' if item.met else 'MISSED'})",
        )
    console.print(table)


if __name__ == "__main__":
    main()
