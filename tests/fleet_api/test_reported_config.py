"""What an exhibit reports of its configuration and agent, against what the fleet expects.

The birth messages here are the real agent's (``device.ops.status.status_message`` from real
``AgentSettings``), so the fleet is held to what agents actually send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.messages import Status
from device import __version__ as agent_version
from device.core.clock import FakeClock
from device.ops.status import status_message
from device.settings.config import AgentSettings
from fleet_api.agent_versions import VersionBasis, version_policy
from fleet_api.config_drift import ConfigState, config_state
from fleet_api.inbound import Inbound
from fleet_api.main import create_app
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import status
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN


def agent(tmp_path: Path, exhibit_id: str, **overrides: Any) -> AgentSettings:
    """An agent's settings as a technician writes them: a button and a motion sensor."""
    values: dict[str, Any] = {
        "exhibit_id": exhibit_id,
        "data_dir": tmp_path / exhibit_id,
        "inputs": [
            {"name": "button", "kind": "button", "pin": 17},
            {"name": "motion", "kind": "motion", "pin": 4},
        ],
    }
    values.update(overrides)
    return AgentSettings(**values)


def birth(settings: AgentSettings) -> Inbound:
    """The retained birth message the agent publishes, byte for byte."""
    publication = status_message(settings, online=True, clock=FakeClock())
    return Inbound(publication.topic, publication.payload)


def last_will(exhibit_id: str) -> Inbound:
    """The last will the broker publishes for the agent (no time, no version, no config)."""
    publication = status_message(
        AgentSettings(exhibit_id=exhibit_id, inputs=[]), online=False, clock=None
    )
    return Inbound(publication.topic, publication.payload)


@pytest.mark.parametrize(
    ("expected", "reported", "registered", "inputs", "state"),
    [
        ("abc", "abc", ["button"], ["button"], ConfigState.MATCHES),
        ("abc", "abc", [], ["button"], ConfigState.MATCHES),  # nothing registered to compare
        ("abc", "abd", ["button"], ["button"], ConfigState.DRIFTED),
        ("abc", "abd", ["button"], ["motion"], ConfigState.DRIFTED),  # the hash says more
        ("abc", "abc", ["button"], ["button", "motion"], ConfigState.INPUTS_DIFFER),
        (None, "abc", ["button"], ["motion"], ConfigState.INPUTS_DIFFER),
        (None, "abc", ["button"], ["button"], ConfigState.NOT_EXPECTED),
        ("abc", None, ["button"], None, ConfigState.NOT_REPORTED),
        (None, None, [], None, ConfigState.NOT_REPORTED),
    ],
)
def test_config_state(
    expected: str | None,
    reported: str | None,
    registered: list[str],
    inputs: list[str] | None,
    state: ConfigState,
) -> None:
    found = config_state(
        expected_hash=expected,
        reported_hash=reported,
        registered_inputs=registered,
        reported_inputs=inputs,
    )
    assert found is state
    assert found.wrong == (state in (ConfigState.DRIFTED, ConfigState.INPUTS_DIFFER))


def test_versions_compare_as_versions_and_the_setting_wins() -> None:
    # As text "0.9.2" > "0.10.0"; as versions it is older.
    newest = version_policy(None, ["0.9.2", "0.10.0", None, "nightly"])
    assert (newest.current, newest.basis) == ("0.10.0", VersionBasis.NEWEST_REPORTED)
    assert newest.outdated("0.9.2") is True
    assert newest.outdated("0.10.0") is False
    assert newest.outdated("nightly") is None  # not a version: not known, not guessed
    assert newest.outdated(None) is None
    configured = version_policy("0.11.0", ["0.12.0"])
    assert (configured.current, configured.basis) == ("0.11.0", VersionBasis.SETTING)
    assert configured.outdated("0.10.0") is True
    assert configured.outdated("0.12.0") is False
    nothing = version_policy(None, [None, "nightly"])
    assert (nothing.current, nothing.basis, nothing.outdated("1.0")) == (
        None,
        VersionBasis.NONE,
        None,
    )


async def test_a_birth_stores_version_config_hash_and_inputs_and_the_will_keeps_them(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = agent(tmp_path, "exhibit-001")
    await client.post("/exhibits", json={"id": "exhibit-001", "name": "Pendulum"})
    write_batch(app.state.engine, [birth(settings)])
    reported = (await client.get("/exhibits/exhibit-001")).json()["status"]
    assert reported["agent_version"] == agent_version
    assert reported["config_hash"] == settings.config_hash()
    assert reported["inputs"] == ["button", "motion"]
    assert reported["online"] is True

    write_batch(app.state.engine, [last_will("exhibit-001")])
    after = (await client.get("/exhibits/exhibit-001")).json()["status"]
    assert after["online"] is False
    assert (after["agent_version"], after["config_hash"], after["inputs"]) == (
        agent_version,
        settings.config_hash(),
        ["button", "motion"],
    )


async def test_config_drift_is_an_alert_once_a_hash_is_expected(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    right = agent(tmp_path, "exhibit-001")
    await client.post(
        "/exhibits", json={"id": "exhibit-001", "name": "Pendulum", "inputs": ["button", "motion"]}
    )
    write_batch(app.state.engine, [birth(right)])

    async def health() -> dict[str, Any]:
        body: dict[str, Any] = (await client.get("/exhibits/exhibit-001/health")).json()
        return body

    first = await health()
    assert (first["config"], first["expected_config_hash"]) == ("not_expected", None)
    assert "config_drift" not in [a["code"] for a in first["alerts"]]

    # The technician accepts what it reports now.
    patched = await client.patch(
        "/exhibits/exhibit-001", json={"expected_config_hash": right.config_hash()}
    )
    assert patched.json()["expected_config_hash"] == right.config_hash()
    assert (await health())["config"] == "matches"

    # Someone rewires the motion sensor to another pin on the Pi: another hash.
    moved = agent(
        tmp_path,
        "exhibit-001",
        inputs=[
            {"name": "button", "kind": "button", "pin": 17},
            {"name": "motion", "kind": "motion", "pin": 5},
        ],
    )
    assert moved.config_hash() != right.config_hash()
    write_batch(app.state.engine, [birth(moved)])
    drifted = await health()
    assert drifted["config"] == "drifted"
    assert drifted["config_hash"] == moved.config_hash()
    [alert] = [a for a in drifted["alerts"] if a["code"] == "config_drift"]
    assert alert["severity"] == "warning"

    # Another agent counts under other names than those registered.
    renamed = agent(
        tmp_path, "exhibit-001", inputs=[{"name": "lever", "kind": "button", "pin": 17}]
    )
    await client.patch("/exhibits/exhibit-001", json={"expected_config_hash": None})
    write_batch(app.state.engine, [birth(renamed)])
    differ = await health()
    assert (differ["config"], differ["reported_inputs"]) == ("inputs_differ", ["lever"])
    assert "config_drift" in [a["code"] for a in differ["alerts"]]

    refused = await client.patch("/exhibits/exhibit-001", json={"expected_config_hash": "a b"})
    assert refused.status_code == 422


async def test_outdated_agents_against_the_fleet_or_the_setting(db_url: str) -> None:
    at = datetime(2026, 5, 4, 7, tzinfo=UTC)

    async def health(configured: str | None) -> dict[str, Any]:
        settings = Settings(
            database_url=db_url,
            bootstrap_admin_token=ADMIN_TOKEN,
            agent_current_version=configured,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=ADMIN_HEADERS
            ) as client:
                for exhibit_id, version in (("old", "0.9.2"), ("new", "0.10.0"), ("odd", "x")):
                    if (await client.get(f"/exhibits/{exhibit_id}")).status_code == 404:
                        await client.post("/exhibits", json={"id": exhibit_id, "name": exhibit_id})
                    write_batch(
                        app.state.engine, [status(exhibit_id, at=at, agent_version=version)]
                    )
                body: dict[str, Any] = (await client.get("/fleet/health")).json()
                return body

    newest = await health(None)
    assert (newest["current_agent_version"], newest["current_agent_version_basis"]) == (
        "0.10.0",
        "newest_reported",
    )
    outdated = {e["exhibit_id"]: e["agent_outdated"] for e in newest["exhibits"]}
    assert outdated == {"new": False, "odd": None, "old": True}
    old = next(e for e in newest["exhibits"] if e["exhibit_id"] == "old")
    assert "agent_outdated" in [a["code"] for a in old["alerts"]]

    pinned = await health("0.9.0")
    assert pinned["current_agent_version_basis"] == "setting"
    assert {e["exhibit_id"]: e["agent_outdated"] for e in pinned["exhibits"]} == {
        "new": False,
        "odd": None,
        "old": False,
    }


def test_a_status_without_the_new_fields_is_still_read() -> None:
    """An agent older than the config hash sends none: the fleet says not reported."""
    old = Status(exhibit_id="exhibit-001", online=True, at=datetime(2026, 5, 4, tzinfo=UTC))
    assert (old.config_hash, old.inputs) == (None, None)
    assert (
        config_state(
            expected_hash="abc", reported_hash=None, registered_inputs=[], reported_inputs=None
        )
        is ConfigState.NOT_REPORTED
    )
