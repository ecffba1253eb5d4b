"""Settings: where they come from, and one-line errors that name the setting and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device.config import AgentSettings, InputKind, load_settings, parse_broker_url
from device.errors import ConfigError


def test_environment_builds_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_EXHIBIT_ID", "exhibit-007")
    monkeypatch.setenv("EXHIBIT_BROKER_URL", "mqtt://broker.local")
    monkeypatch.setenv("EXHIBIT_PASSWORD", "s3cret")
    monkeypatch.setenv(
        "EXHIBIT_INPUTS",
        (
            '[{"name": "start", "kind": "button", "pin": 17},'
            ' {"name": "pir", "kind": "motion", "pin": 4}]'
        ),
    )
    settings = load_settings()
    assert settings.exhibit_id == "exhibit-007"
    assert (settings.broker_host, settings.broker_port) == ("broker.local", 1883)
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert [(i.name, i.kind, i.pin) for i in settings.inputs] == [
        ("start", InputKind.BUTTON, 17),
        ("pir", InputKind.MOTION, 4),
    ]
    assert [i.debounce for i in settings.inputs] == [0.05, 0.0]
    assert (settings.bucket_seconds, settings.inflight_window) == (60.0, 100)
    assert (settings.batch_max_records, settings.heartbeat_seconds) == (500, 60.0)
    assert settings.mqtt_client_id == "exhibit-007"


def test_toml_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        'exhibit_id = "exhibit-002"\n'
        "bucket_seconds = 30\n"
        f'data_dir = "{tmp_path}"\n'
        "[[inputs]]\n"
        'name = "lever"\n'
        'kind = "button"\n'
        "pin = 22\n"
    )
    monkeypatch.setenv("EXHIBIT_CONFIG", str(config))
    monkeypatch.setenv("EXHIBIT_BUCKET_SECONDS", "15")
    settings = load_settings()
    assert settings.exhibit_id == "exhibit-002"
    assert settings.bucket_seconds == 15
    assert settings.outbox_path == tmp_path / "outbox.sqlite3"
    assert [i.name for i in settings.inputs] == ["lever"]


def test_values_in_code_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_EXHIBIT_ID", "from-env")
    assert load_settings(exhibit_id="from-code").exhibit_id == "from-code"
    assert AgentSettings(exhibit_id="direct").exhibit_id == "direct"


def test_code_only_settings_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_BUCKET_SECONDS", "5")
    monkeypatch.setenv("EXHIBIT_CONFIG", "/no/such/file.toml")
    settings = load_settings(use_environment=False, exhibit_id="sim-001")
    assert settings.bucket_seconds == 60
    with pytest.raises(ConfigError, match="exhibit_id"):
        load_settings(use_environment=False)
    monkeypatch.delenv("EXHIBIT_CONFIG")
    assert load_settings(exhibit_id="e1").bucket_seconds == 5  # the default still reads it


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, r"setting exhibit_id \(EXHIBIT_EXHIBIT_ID\): is required; set it .* e\.g\."),
        (
            {"exhibit_id": "Exhibit 1"},
            r"setting exhibit_id \(EXHIBIT_EXHIBIT_ID\): exhibit id 'Exhibit 1' is not valid",
        ),
        (
            {"exhibit_id": "e1", "broker_url": "http://broker:1883"},
            r"setting broker_url \(EXHIBIT_BROKER_URL\): .* must start with mqtt://; use mqtt://",
        ),
        (
            {"exhibit_id": "e1", "inputs": [{"name": "b", "kind": "lever", "pin": 3}]},
            r"setting inputs\[0\]\.kind \(EXHIBIT_INPUTS\): .*; use button or motion",
        ),
        (
            {
                "exhibit_id": "e1",
                "inputs": [
                    {"name": "a", "kind": "button", "pin": 3},
                    {"name": "b", "kind": "motion", "pin": 3},
                ],
            },
            r"setting inputs \(EXHIBIT_INPUTS\): pin 3 is used by both 'a' and 'b'; wire each",
        ),
        (
            {
                "exhibit_id": "e1",
                "inputs": [
                    {"name": "a", "kind": "button", "pin": 3},
                    {"name": "a", "kind": "button", "pin": 4},
                ],
            },
            r"input name 'a' is used twice",
        ),
        (
            {"exhibit_id": "e1", "inputs": [{"name": "a", "kind": "button", "pin": 40}]},
            r"setting inputs\[0\]\.pin .* BCM GPIO number 0-27",
        ),
        (
            {"exhibit_id": "e1", "batch_max_records": 5000},
            r"setting batch_max_records .*; use 1-1000",
        ),
        (
            {"exhibit_id": "e1", "reconnect_min_s": 5, "reconnect_max_s": 1},
            r"setting reconnect_max_s .* below reconnect_min_s",
        ),
        ({"exhibit_id": "e1", "bogus": 1}, r"setting bogus .*not a setting"),
    ],
)
def test_bad_settings_are_one_line_config_errors(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(**values)
    assert "\n" not in str(caught.value)


def test_bad_json_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_INPUTS", "[{not json")
    with pytest.raises(ConfigError, match=r"setting inputs \(EXHIBIT_INPUTS\): not valid JSON"):
        load_settings(exhibit_id="e1")


def test_config_file_problems_name_exhibit_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXHIBIT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"EXHIBIT_CONFIG: .* is not a file"):
        load_settings()
    broken = tmp_path / "broken.toml"
    broken.write_text("exhibit_id = \n")
    monkeypatch.setenv("EXHIBIT_CONFIG", str(broken))
    with pytest.raises(ConfigError, match=r"EXHIBIT_CONFIG: .* is not valid TOML"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mqtts://b:8883", "TLS"),
        ("mqtt://user:pw@b:1883", "EXHIBIT_USERNAME"),
        ("mqtt://:1883", "no host"),
        ("mqtt://b:1883/x", "path"),
        ("mqtt://b:http", "bad port"),
    ],
)
def test_broker_url_problems_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_broker_url(url)


def test_a_password_in_the_broker_url_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(exhibit_id="e1", broker_url="mqtt://exhibit:hunter2@broker:1883")
    assert "hunter2" not in str(caught.value)
    assert "EXHIBIT_PASSWORD" in str(caught.value)


def test_config_hash_changes_with_the_inputs_only() -> None:
    one = load_settings(exhibit_id="e1", inputs=[{"name": "a", "kind": "button", "pin": 3}])
    same = load_settings(exhibit_id="e2", inputs=[{"name": "a", "kind": "button", "pin": 3}])
    other = load_settings(exhibit_id="e1", inputs=[{"name": "a", "kind": "button", "pin": 4}])
    assert one.config_hash() == same.config_hash() != other.config_hash()
