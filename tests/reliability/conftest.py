"""The reliability suite: scenarios and bad input against real Mosquitto and the real fleet API.

Every test here is marked ``reliability`` (and ``integration``: it opens sockets). The
``backend`` fixture runs a test on SQLite and on PostgreSQL; PostgreSQL gets a database
of its own per run (``simulator.databases``), from ``FLEET_TEST_DATABASE_URL`` or the
local server. A missing Mosquitto or PostgreSQL is a visible skip outside CI and a
failure under ``CI=true`` (``tests.conftest.require``).

Each scenario test adds its :class:`simulator.reliability.ScenarioReport` to the
session's reports; ``pytest_terminal_summary`` prints them as one table at the end, in
the terminal report, so CI logs show it without ``-s``.
"""

from __future__ import annotations

import functools

import pytest
from rich.console import Console

from broker.mosquitto import INSTALL_HINT, mosquitto_binary
from simulator.databases import ADMIN_URL_ENV, Backend, admin_url
from simulator.reliability import ScenarioReport, summary_table
from tests.conftest import require

REPORTS = pytest.StashKey[list[ScenarioReport]]()
TABLE_WIDTH = 130


def pytest_configure(config: pytest.Config) -> None:
    """Start the session's list of scenario reports."""
    config.stash[REPORTS] = []
    # Home of the marker is pyproject.toml; registering it here too keeps this directory
    # runnable under --strict-markers on its own.
    config.addinivalue_line("markers", "reliability: scenarios and bad input, real components")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``reliability`` and ``integration``."""
    for item in items:
        if "tests/reliability/" in item.nodeid:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.integration)


@functools.cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None if it can (asked once per session)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[api]')"
    url = admin_url().replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"{url} is not reachable ({str(exc).strip().splitlines()[0]})"


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _usable(name: str) -> Backend:
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    if name == "postgresql":
        problem = _postgres_problem()
        require(
            problem is None,
            "PostgreSQL",
            f"{problem}; set {ADMIN_URL_ENV} or: sudo apt-get install postgresql",
        )
        return "postgresql"
    return "sqlite"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The fleet's database engine: each test runs on both."""
    return _usable(request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def backend_module(request: pytest.FixtureRequest) -> Backend:
    """The same, for a module's fixtures that run one fleet per engine."""
    return _usable(request.param)


@pytest.fixture
def reports(request: pytest.FixtureRequest) -> list[ScenarioReport]:
    """Where a scenario test leaves its report for the summary table."""
    return request.config.stash[REPORTS]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The summary table of every scenario run in this session."""
    found = terminalreporter.config.stash.get(REPORTS, [])
    if not found:
        return
    console = Console(width=TABLE_WIDTH, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(summary_table(found, title="reliability: ledger vs fleet API"))
    terminalreporter.write_sep("=", "reliability summary")
    terminalreporter.write(captured.get())
