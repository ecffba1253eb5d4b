"""The ``fleet-api`` command line: migrate, serve, and one-line errors without tracebacks."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker.mosquitto import free_port
from fleet_api.cli import main
from fleet_api.db import current_revision, head_revision, make_engine
from fleet_api.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLEET_"):
            monkeypatch.delenv(name)


def test_migrate_brings_the_database_to_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/fleet.db"
    monkeypatch.setenv("FLEET_DATABASE_URL", url)
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == f"{url} is at revision {head_revision()}\n"
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_bad_configuration_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("FLEET_INGEST_BATCH_WAIT_MS", "-1")
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fleet-api: invalid configuration: FLEET_INGEST_BATCH_WAIT_MS='-1'")
    assert "Traceback" not in err


def test_an_unusable_database_exits_1_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEET_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/fleet.db")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unable to open database file" in err
    assert "FLEET_DATABASE_URL=sqlite:///" in err


def test_a_serve_without_migrations_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEET_DATABASE_URL", f"sqlite:///{tmp_path}/fleet.db")
    monkeypatch.setenv("FLEET_MIGRATE_ON_START", "false")
    assert main(["serve"]) == 1
    assert "run `fleet-api migrate`" in capsys.readouterr().err


@pytest.mark.integration
def test_python_m_fleet_api_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    """How the simulator launches the API: a subprocess on a free port."""
    port = free_port()
    env = {**os.environ, "FLEET_DATABASE_URL": f"sqlite:///{tmp_path}/fleet.db"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet_api", "serve", "--port", str(port), "--log-level", "info"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, process.communicate(timeout=5)[0].decode()
        assert health.json() == {
            "status": "ok",
            "database": "ok",
            "database_detail": None,
            "ingestion": "disabled",
        }
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    # uvicorn shuts down gracefully (the lifespan's shutdown ran), then re-raises SIGTERM.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output


def test_broker_subcommand_manages_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fleet-api broker init`` is broker/admin.py, reached without any FLEET_ settings."""
    dynsec, control = tmp_path / "dynsec" / "dynsec.json", tmp_path / "control.env"
    argv = ["--dynsec-file", str(dynsec), "--control-file", str(control)]
    assert main(["broker", "init", *argv]) == 0
    assert "services share group: ingest-" in capsys.readouterr().err
    assert '"defaultACLAccess"' in dynsec.read_text()
    assert "FLEET_BROKER_CONTROL_PASSWORD=" in control.read_text()


def test_the_served_app_freezes_the_collector_after_start_up_and_test_apps_do_not(
    tmp_path: Path,
) -> None:
    from fleet_api.main import create_app, create_server_app

    assert create_server_app().state.freeze_gc is True
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fleet.db'}", ingest_enabled=False)

    async def frozen_after_start(freeze_gc: bool) -> int:
        app = create_app(settings, freeze_gc=freeze_gc)
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    gc.unfreeze()
    try:
        assert asyncio.run(frozen_after_start(False)) == 0
        assert asyncio.run(frozen_after_start(True)) > 10_000
    finally:
        gc.unfreeze()
