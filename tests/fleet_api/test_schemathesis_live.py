"""schemathesis from outside: the ``st`` command against a live API, on SQLite and PostgreSQL.

What a new user would run (``st run URL/openapi.json -H "Authorization: Bearer ..."
--checks all``), against ``python -m fleet_api serve`` with a real Mosquitto, on each
backend: PostgreSQL refuses what SQLite stores (NUL was a 500 there only). Every check
schemathesis has runs, in every phase (examples, coverage, fuzzing, and the stateful
phase that follows the links it infers: a school created, then read, changed, used by a
visit, ...), with one substitution from ``tests/fleet_api/schemathesis_hooks.py``:
``positive_data_acceptance`` becomes ``schema_valid_is_accepted``, which allows the
refusals a schema cannot state (rules across fields, the data's state) and nothing else.

The in-process run (``test_schemathesis.py``) covers every operation with hypothesis'
shrinking; this one proves the same from outside, as the issue was found.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from broker.mosquitto import MosquittoProcess
from simulator.fleet_process import FleetApiProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TOKEN = "fleet_st-admin-token-0123456789abcdefghijklmnopq"
EXAMPLES = 25
"""Cases per operation and phase (~50 operations: about 3,500 requests; 1 min idle, up to
3 min on a busy machine, hence the timeout)."""
SEED = 15


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_schemathesis_from_outside_finds_nothing(
    backend: str,
    tmp_path: Path,
    mosquitto: MosquittoProcess,
    request: pytest.FixtureRequest,
) -> None:
    database_url = (
        f"sqlite:///{tmp_path / 'fleet.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("database_url"))
    )
    api = FleetApiProcess(
        database_url=database_url,
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        token=TOKEN,
        log_path=tmp_path / "api.log",
    ).start(timeout=60)
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{api.url}/openapi.json",
                "-H",
                f"Authorization: Bearer {TOKEN}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--no-color",
            ],
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.fleet_api.schemathesis_hooks",
                "PYTHONPATH": str(Path(__file__).parents[2]),
            },
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        api.stop(timeout=15)
    report = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(report)
    assert run.returncode == 0, report[-12000:]
    assert "schema_valid_is_accepted" in report or "Test cases" in report, report[-3000:]
    assert "Authentication failed" not in report, report[-3000:]
