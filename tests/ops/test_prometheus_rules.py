"""The Prometheus rules in ops/prometheus/: promtool checks and unit-tests them, every rule
has a test that makes it fire, and every metric they read is one the fleet API exports.

Needs Debian's ``prometheus`` package (promtool); ``scripts/system-deps.sh`` installs it.
Missing, these tests skip visibly, and fail under CI=true.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from broker.messages import utc_now
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.conftest import require
from tests.fleet_api.builders import beat, self_test, status
from tests.fleet_api.helpers import register

pytestmark = pytest.mark.prometheus

RULES_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
RULES = RULES_DIR / "exhibit-fleet.rules.yml"
TESTS = RULES_DIR / "tests" / "exhibit-fleet.test.yml"
REQUIRED = {
    "ExhibitOfflineDuringVisit",
    "ExhibitOutboxBacklog",
    "ExhibitUnderVoltage",
    "ExhibitSelfTestFailed",
    "ExhibitClockUnsyncedDuringVisit",
    "FleetIngestionDown",
}
METRIC = re.compile(r"\b(fleet_[a-z_]+)\b")


def promtool(*args: str, request: pytest.FixtureRequest) -> str:
    """Run promtool in ops/prometheus; its output, shown in the test report."""
    binary = shutil.which("promtool")
    require(binary is not None, "promtool", "apt-get install prometheus (scripts/system-deps.sh)")
    assert binary is not None
    done = subprocess.run(
        [binary, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    output = (done.stdout + done.stderr).strip()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"$ promtool {' '.join(args)}\n{output}")
    assert done.returncode == 0, output
    return output


def alerting_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_the_rules(request: pytest.FixtureRequest) -> None:
    output = promtool("check", "rules", RULES.name, request=request)
    assert f"SUCCESS: {len(alerting_rules())} rules found" in output


def test_promtool_unit_tests_pass(request: pytest.FixtureRequest) -> None:
    output = promtool("test", "rules", str(TESTS.relative_to(RULES_DIR)), request=request)
    assert "SUCCESS" in output


def test_every_rule_has_a_unit_test_that_makes_it_fire() -> None:
    names = {str(rule["alert"]) for rule in alerting_rules()}
    assert names >= REQUIRED
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert names - fired == set(), "rules no test makes fire"
    assert names - quiet == set(), "rules no test checks to stay quiet"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """A running API on a fresh SQLite database."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/fleet.db", mqtt_url=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_every_metric_the_rules_read_is_exported(app: FastAPI) -> None:
    """A renamed gauge would leave its rule silently quiet: hold the names together."""
    register(app.state.engine, "ex-1")
    now = utc_now()
    write_batch(
        app.state.engine,
        [
            status("ex-1", at=now),
            beat("ex-1", at=now, under_voltage=False, throttled=False, cpu_temp_c=40.0),
            self_test("ex-1", "c-1", {"button": True}),
        ],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        exported = (await client.get("/metrics")).text
    names = {line.split("{")[0].split(" ")[0] for line in exported.splitlines() if line[:1] != "#"}
    read = {name for rule in alerting_rules() for name in METRIC.findall(str(rule["expr"]))}
    assert read, "the rules read no fleet metric"
    assert read - names == set()
