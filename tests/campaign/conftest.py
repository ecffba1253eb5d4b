"""The fault campaign's fixed seeds: marker ``campaign`` (with ``integration``); make test-campaign.

Each test adds its :class:`simulator.campaign_run.SeedResult`; the terminal summary prints
them as the campaign's table (seeds, faults, interactions, lost, duplicated,
misattributed, unplaced), so CI logs show it without ``-s``.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from simulator.campaign_run import SeedResult, results_table

RESULTS = pytest.StashKey[list[SeedResult]]()
TABLE_WIDTH = 110


def pytest_configure(config: pytest.Config) -> None:
    """Start the session's list of campaign results."""
    config.stash[RESULTS] = []
    config.addinivalue_line("markers", "campaign: the fault campaign's fixed seeds")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``campaign`` and ``integration``."""
    for item in items:
        if "tests/campaign/" in item.nodeid:
            item.add_marker(pytest.mark.campaign)
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def campaign_results(request: pytest.FixtureRequest) -> list[SeedResult]:
    """Where a test puts its seed's result for the summary table."""
    return request.config.stash[RESULTS]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the campaign's table after the run."""
    results = terminalreporter.config.stash.get(RESULTS, [])
    if not results:
        return
    console = Console(width=TABLE_WIDTH, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(results_table(results))
    terminalreporter.write_sep("=", "fault campaign summary")
    terminalreporter.write(captured.get())
