"""The agent's configuration messages held to the contract (``broker.messages``).

``device.wire.configs`` reads the fleet's ``ExhibitConfig`` and writes ``ConfigReport``
without pydantic; here both are compared with the pydantic models on generated cases.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker import messages
from broker.errors import MessageError
from broker.exhibit_config import config_hash, describe, problems
from broker.topics import Channel
from device.settings.config import AgentSettings
from device.wire import codec
from device.wire.configs import ConfigRefused, ExhibitConfig, config_report_payload

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "inputs": [{"name": "button", "kind": "button", "pin": 17}],
    "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
    ],
}
CLASHING = {**GOOD, "outputs": [{"name": "lamp", "kind": "led", "pin": 17}]}
MISSPELT = {**GOOD, "behavior": []}


def _config(**change: Any) -> bytes:
    document = change.pop("config", GOOD)
    fields: dict[str, Any] = {
        "schema_version": 1,
        "exhibit_id": "e1",
        "version": 3,
        "config_hash": config_hash(document),
        "config": document,
        "issued_at": "2026-03-02T09:30:00Z",
    }
    fields.update(change)
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


CASES = [
    _config(),
    _config(force=True),
    _config(force=False),
    _config(version=3.0),
    _config(config=CLASHING),
    _config(config=MISSPELT),
    _config(config={"inputs": "button"}),
    _config(config_hash="0" * 16),
    _config(config_hash="ABCDEF0123456789"),
    _config(config=[1]),
    _config(version=0),
    _config(force="yes"),
    _config(force=1),
    _config(issued_at="2026-03-02T09:30:00"),
    _config(exhibit_id="E 1"),
    _config(extra=1),
    _config(schema_version=2),
    _config(config_hash=None),
    b"{not json",
]


def _outcome(decode: Any, payload: bytes) -> tuple[str, dict[str, Any]]:
    try:
        message = decode(Channel.CONFIG, payload)
    except MessageError as exc:
        return exc.reason, {}
    fields = ("exhibit_id", "version", "config_hash", "config", "issued_at")
    found = {name: getattr(message, name) for name in fields}
    found["force"] = bool(message.force)  # the agent reads an absent force as false
    return "ok", found


@pytest.mark.parametrize("payload", CASES)
def test_reading_a_configuration_agrees_with_the_contract(payload: bytes) -> None:
    assert _outcome(codec.decode_inbound, payload) == _outcome(messages.decode, payload)


def test_a_boolean_version_is_refused_by_the_agent_though_the_contract_reads_it_as_1() -> None:
    """The one known difference: pydantic's lax integers take ``true`` as 1; the agent's
    ``int_value`` (as for every integer it reads) does not. The fleet writes integers."""
    payload = _config(version=True)
    assert messages.decode(Channel.CONFIG, payload).version == 1  # type: ignore[union-attr]
    with pytest.raises(MessageError, match=r"^invalid: version:"):
        codec.decode_inbound(Channel.CONFIG, payload)


@pytest.mark.parametrize("document", [CLASHING, MISSPELT])
def test_a_refused_document_keeps_its_envelope_and_the_checkers_line(
    document: dict[str, Any],
) -> None:
    with pytest.raises(ConfigRefused) as refused:
        codec.decode_inbound(Channel.CONFIG, _config(config=document, force=True))
    assert refused.value.detail == describe(problems(document))
    assert (refused.value.config.version, refused.value.config.force) == (3, True)
    assert refused.value.reason == "invalid"


@given(
    version=st.integers(min_value=1, max_value=2**53 - 1),
    outcome=st.sampled_from(["applied", "waiting", "refused"]),
    reason=st.none() | st.text(max_size=600),
    synced=st.booleans(),
    at=st.datetimes(timezones=st.just(UTC)),
)
def test_config_reports_are_the_contracts_own_json(
    version: int, outcome: str, reason: str | None, synced: bool, at: datetime
) -> None:
    config = ExhibitConfig("e1", version, config_hash(GOOD), GOOD, T0)
    payload = config_report_payload(
        config, outcome=outcome, at=at, clock_synced=synced, reason=reason
    )
    model = messages.ConfigReport.model_validate_json(payload)
    assert payload == model.model_dump_json(exclude_none=True).encode()
    assert (model.version, model.outcome, model.at) == (version, outcome, at)
    if reason is not None:
        assert model.reason is not None
        assert len(model.reason) <= 500


def test_a_birth_carries_the_config_version(tmp_path: Any) -> None:
    payload = codec.status_payload(
        exhibit_id="e1",
        online=True,
        at=T0,
        boot_id="b1",
        config_hash=config_hash(GOOD),
        inputs=["button"],
        config_version=7,
        refused_subscriptions={"a/b": "Not authorized"},
    )
    model = messages.Status.model_validate_json(payload)
    assert payload == model.model_dump_json(exclude_none=True).encode()
    assert model.config_version == 7
    settings = AgentSettings(exhibit_id="e1", data_dir=tmp_path, config_version=7)
    assert settings.config_version == 7
