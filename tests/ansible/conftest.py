"""Fixtures of the Ansible suite: a booted test fleet and the stages of deploying it.

Each stage is a module-scoped fixture that runs once and that later stages build on:
``deployed`` (site.yml on fresh machines) -> ``provisioned`` (provision_exhibit.yml for a
second exhibit) -> ``visit`` (a visit in progress for exhibit-001). A failed stage is
reported as an error by every test that needs it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.artefacts import BIN, WheelhouseServer, build_pinbench, build_wheelhouse
from tests.ansible.fleet import Fleet, PlaybookRun
from tests.ansible.hostside import sweep
from tests.ansible.testbed import Testbed, ensure_root_tarball, missing_tools
from tests.conftest import require
from tests.fleet_api.receivers import WebhookReceiver

MACHINES = ("server", "pi1", "pi2")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``ansible`` marker (also listed in pyproject.toml)."""
    config.addinivalue_line("markers", "ansible: the Ansible suite (lint, syntax, test fleet)")


def require_ansible() -> None:
    """ansible-core and ansible-lint in this venv (the ``ansible`` extra)."""
    require(
        (BIN / "ansible-playbook").exists() and (BIN / "ansible-lint").exists(),
        "ansible-core / ansible-lint",
        "pip install -e '.[ansible]'",
    )


REPORT_LINES: list[str] = []


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Show a line in the test output (timings, the security score), captured or not.

    It is printed at once and again in an "ansible suite" section of the summary.
    """
    REPORT_LINES.append(line)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat what the suite measured at the end of the run."""
    if REPORT_LINES:
        terminalreporter.section("ansible suite")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Fleet]:
    """Three booted bookworm machines (server, pi1, pi2) and an inventory with exhibit-001."""
    require_ansible()
    require(
        os.geteuid() == 0,
        "root",
        "the Ansible suite creates network namespaces and boots containers",
    )
    missing = missing_tools()
    require(
        not missing,
        " ".join(missing),
        "apt-get install debootstrap systemd-container zstd openssh-client iproute2",
    )
    sweep()
    tarball = ensure_root_tarball()
    wheelhouse = build_wheelhouse()
    workdir = tmp_path_factory.mktemp("ansible")
    pinbench = build_pinbench()
    with Testbed(workdir / "bed", tarball) as bed:
        bed.add_all(MACHINES)
        index = WheelhouseServer(wheelhouse, bed.host_address)
        receiver = WebhookReceiver(host=bed.host_address)
        try:
            bed.boot()
            fleet = Fleet(bed, workdir, index.url, pinbench)
            fleet.webhook_url = receiver.url
            fleet.receiver = receiver
            fleet.write_inventory()
            # A Pi provisioned earlier: its broker password is already in its vault.
            fleet.add_exhibit("exhibit-001", "pi1", password=secrets.token_urlsafe(24))
            yield fleet
            for run in fleet.runs:
                report(request, f"ansible: {' '.join(run.argv[5:])} took {run.seconds:.0f}s")
        finally:
            receiver.close()
            index.close()


def assert_ok(run: PlaybookRun) -> None:
    """The playbook succeeded on every host; otherwise show the end of its output."""
    failed = {host: r for host, r in run.recap.items() if r["failed"] or r["unreachable"]}
    assert not failed, f"{run.argv}\n{run.output[-6000:]}"
    assert run.returncode == 0, f"{run.argv}\n{run.output[-6000:]}"


@pytest.fixture(scope="module")
def deployed(fleet: Fleet) -> PlaybookRun:
    """site.yml applied to the fresh server and pi1."""
    run = fleet.playbook("site.yml")
    assert_ok(run)
    return run


@pytest.fixture(scope="module")
def provisioned(fleet: Fleet, deployed: PlaybookRun) -> PlaybookRun:
    """exhibit-002 added to the inventory (no vault yet) and provisioned on pi2."""
    fleet.add_exhibit("exhibit-002", "pi2", password=None)
    run = fleet.playbook("provision_exhibit.yml", "-e", "exhibit=exhibit-002")
    assert_ok(run)
    return run


@pytest.fixture(scope="module")
def visit(fleet: Fleet, provisioned: PlaybookRun) -> dict[str, Any]:
    """A school visit with exhibit-001, in progress now (exhibit-002 stays at the depot)."""
    school = fleet.api(
        "POST", "/schools", {"name": "Test school", "municipality": "Rēzekne", "region": "Latgale"}
    )
    now = datetime.now(UTC).replace(microsecond=0)
    created: dict[str, Any] = fleet.api(
        "POST",
        "/visits",
        {
            "school_id": school["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "exhibit_ids": ["exhibit-001"],
        },
    )
    # Checked out, as staff do before the van leaves: the test bed's clocks are not
    # NTP-synced, and untagged records of a never-synced boot are honestly unplaced
    # (issue 16), not counted by their wall time. Wait until the agent holds it.
    fleet.api("POST", f"/visits/{created['id']}/checkout")
    deadline = time.monotonic() + 60
    held = None
    while time.monotonic() < deadline:
        status = json.loads(fleet.ssh("pi1", "exhibit-agent status --json").stdout)
        held = status.get("visit_id")
        if str(held) == str(created["id"]):
            break
        time.sleep(1)
    assert str(held) == str(created["id"]), f"exhibit-001 holds visit {held}"
    return created


@pytest.fixture
def workdir(fleet: Fleet) -> Path:
    """This run's directory (inventory, logs of every playbook run)."""
    return fleet.workdir
