"""Simulator -> real broker -> fleet API -> verify: every count exact."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoProcess
from simulator.cli import main as sim
from simulator.ledger import totals
from tests.e2e.conftest import TOKEN, ApiFactory

pytestmark = pytest.mark.e2e


def run_and_verify(api_url: str, broker_url: str, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    common = ["--api", api_url, "--ledger", str(ledger), "--token", TOKEN]
    code = sim(
        [
            "run",
            *common,
            "--broker",
            broker_url,
            "--exhibits",
            "3",
            "--seed",
            "11",
            "--duration",
            "8",
            "--mean-gap",
            "0.5",
            "--bucket-seconds",
            "2",
            "--data-dir",
            str(tmp_path / "agents"),
        ]
    )
    assert code == 0
    assert sim(["verify", *common, "--wait", "20"]) == 0

    # The same comparison, made here without the simulator's own code path.
    expected = totals(ledger)
    assert sum(expected.values()) >= 30, "the run must exercise the path with real volume"
    assert {key[2] for key in expected} == {"button", "beam"}
    (visit_id,) = {key[0] for key in expected}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    usage = httpx.get(f"{api_url}/visits/{visit_id}/usage", headers=headers, timeout=5).json()
    reported = {
        (visit_id, exhibit["exhibit_id"], entry["input"]): entry["count"]
        for exhibit in usage["exhibits"]
        for entry in exhibit["inputs"]
        if entry["count"]
    }
    assert reported == dict(expected)
    assert usage["total"] == sum(expected.values())


def test_exact_counts_through_mosquitto(
    mosquitto: MosquittoProcess, fleet_api: ApiFactory, tmp_path: Path
) -> None:
    api_url = fleet_api(f"mqtt://127.0.0.1:{mosquitto.port}")
    run_and_verify(api_url, f"mqtt://127.0.0.1:{mosquitto.port}", tmp_path)


def test_exact_counts_through_the_embedded_broker(
    embedded_broker: EmbeddedBroker, fleet_api: ApiFactory, tmp_path: Path
) -> None:
    api_url = fleet_api(f"mqtt://127.0.0.1:{embedded_broker.port}")
    run_and_verify(api_url, f"mqtt://127.0.0.1:{embedded_broker.port}", tmp_path)


def test_demo_shows_counts_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """``make demo`` runs ``exhibit-sim demo``: counts within 30 s, Ctrl-C stops everything."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "simulator", "demo", "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", "FLEET_TOKEN": TOKEN},
    )
    assert demo.stdout is not None
    lines: list[str] = []
    url = None
    total = 0
    deadline = time.monotonic() + 60
    try:
        for line in demo.stdout:
            lines.append(line)
            if found := re.search(r"usage appears at (\S+)", line):
                url = found.group(1)
                started = time.monotonic()
            if found := re.search(r"total (\d+)$", line.strip()):
                total = int(found.group(1))
                if total > 0:
                    break
            if time.monotonic() > deadline:
                break
        assert url is not None, "".join(lines)
        assert total > 0, "".join(lines)
        assert time.monotonic() - started < 30, "counts must appear within 30 s"
        anonymous = httpx.get(url, timeout=5)
        assert anonymous.status_code == 401
        usage = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert json.loads(usage.text)["total"] >= total
        _the_story_is_told(url.split("/visits/")[0])
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(lines) + rest
    assert "stopped" in rest
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, timeout=2)


def _the_story_is_told(base: str) -> None:
    """Every page has content on first open: a term of trips to Latgale and Kurzeme with
    programmes, pupils, sessions and dwell; clocks synced; today's trip under way."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as api:
        report = api.get("/reports/funder").json()
        totals = report["totals"]
        assert totals["field_trips_held"] >= 6
        assert {row["region"] for row in report["regions"]} == {"Latgale", "Kurzeme"}
        assert totals["programme_deliveries"] >= totals["field_trips_held"]
        assert totals["pupil_participations"] > 0
        assert totals["sessions"] > 0
        assert totals["median_dwell_s"] is not None
        assert {v["status"] for v in report["not_counted"]} == {"planned", "cancelled"}
        health = api.get("/fleet/health").json()["exhibits"]
        assert health
        for exhibit in health:
            codes = {alert["code"] for alert in exhibit["alerts"]}
            assert "unsynced_clock" not in codes, exhibit
        # A technician's change was pushed to the first exhibit and applied at the depot.
        (latest, *_rest) = api.get("/exhibits/sim-001/config").json()
        assert latest["outcome"] == "applied", latest
        lamp = [r for r in latest["config"]["behaviours"] if r["output"] == "lamp"]
        assert lamp == [{**lamp[0], "seconds": 8}]
        login = api.post("/ui/login", data={"token": TOKEN, "next": "/ui/"})
        assert login.status_code == 303
        for page in ("/ui/", "/ui/visits", "/ui/schools", "/ui/regions", "/ui/reports/funder"):
            html = api.get(page).text
            assert "Ludzas 2. vidusskola" in html or "Latgale" in html, page
