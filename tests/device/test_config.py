"""Settings: where they come from, and one-line errors that name the setting and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device.core.errors import ConfigError
from device.settings.config import AgentSettings, load_settings
from device.settings.wiring import InputKind


def test_environment_builds_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_EXHIBIT_ID", "exhibit-007")
    monkeypatch.setenv("EXHIBIT_BROKER_URL", "mqtt://broker.local")
    monkeypatch.setenv("EXHIBIT_USERNAME", "exhibit-007")
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
    assert (settings.endpoint.host, settings.endpoint.port) == ("broker.local", 1883)
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert [(i.name, i.kind, i.pin) for i in settings.inputs] == [
        ("start", InputKind.BUTTON, 17),
        ("pir", InputKind.MOTION, 4),
    ]
    assert [(i.press_debounce, i.release_debounce) for i in settings.inputs] == [
        (0.03, 0.03),
        (0.1, 3.0),
    ]
    assert (settings.bucket_seconds, settings.inflight_window) == (60.0, 100)
    assert (settings.batch_max_records, settings.heartbeat_seconds) == (500, 60.0)
    assert settings.mqtt_client_id == "exhibit-007"
    assert settings.session_idle_s == 30
    assert settings.tls is None


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


BUTTON_3 = {"name": "a", "kind": "button", "pin": 3}
TLS = {"broker_url": "mqtts://broker:8883", "username": "e1", "password": "pw"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, r"setting exhibit_id \(EXHIBIT_EXHIBIT_ID\): is required; set it .* e\.g\."),
        (
            {"exhibit_id": "Exhibit 1"},
            r"setting exhibit_id \(EXHIBIT_EXHIBIT_ID\): exhibit id 'Exhibit 1' is not valid",
        ),
        # unknown input kind, and a kind left out
        (
            {"inputs": [{"name": "b", "kind": "lever", "pin": 3}]},
            r"setting inputs\[0\]\.kind \(EXHIBIT_INPUTS\): unknown input kind 'lever'; "
            r"use button, motion, distance, line, beam or rotary",
        ),
        (
            {"inputs": [{"name": "b", "pin": 3}]},
            r"setting inputs\[0\]\.kind \(EXHIBIT_INPUTS\): is required; use button",
        ),
        # a pin used twice: by two inputs, by one input's second pin, by the indicator
        (
            {"inputs": [BUTTON_3, {"name": "b", "kind": "motion", "pin": 3}]},
            r"setting inputs \(EXHIBIT_INPUTS\): pin 3 is used by both 'a' and 'b' \(pin\); wire",
        ),
        (
            {
                "inputs": [
                    BUTTON_3,
                    {"name": "d", "kind": "distance", "echo_pin": 4, "trigger_pin": 3},
                ]
            },
            r"pin 3 is used by both 'a' and 'd' \(trigger_pin\)",
        ),
        (
            {"inputs": [{"name": "r", "kind": "rotary", "a_pin": 5, "b_pin": 5}]},
            r"pin 5 is used by both 'r' and 'r' \(b_pin\)",
        ),
        (
            {"inputs": [BUTTON_3], "indicator": {"pin": 3}},
            r"setting indicator \(EXHIBIT_INDICATOR\): pin 3 is used by both 'a' and 'indicator'",
        ),
        # names: twice, or clashing with a derived count name
        ({"inputs": [BUTTON_3, {**BUTTON_3, "pin": 4}]}, r"input name 'a' is used twice"),
        (
            {"inputs": [{**BUTTON_3, "hold_s": 2}, {"name": "a_hold", "kind": "beam", "pin": 4}]},
            r"input name 'a_hold' is used twice",
        ),
        (
            {"inputs": [{"name": "d" * 30, "kind": "rotary", "a_pin": 4, "b_pin": 5}]},
            r"counts as 'd{30}_cw', longer than 32 characters",
        ),
        # values out of range, with the fix
        (
            {"inputs": [{**BUTTON_3, "pin": 40}]},
            r"setting inputs\[0\]\.pin .* BCM GPIO number 0-27",
        ),
        (
            {"inputs": [{"name": "r", "kind": "rotary", "a_pin": 4, "b_pin": 30}]},
            r"setting inputs\[0\]\.b_pin .* encoder's B pin",
        ),
        (
            {"inputs": [{"name": "l", "kind": "line", "pin": 4, "count_on": "edge"}]},
            r"setting inputs\[0\]\.count_on .*line.*no_line",
        ),
        # debounce: both edges, each edge, never on a rotary
        (
            {"inputs": [{**BUTTON_3, "release_debounce_s": -0.01}]},
            r"setting inputs\[0\]\.release_debounce_s \(EXHIBIT_INPUTS\): Input should be "
            r"greater than or equal to 0; use seconds between 0 and 60 that a release must hold",
        ),
        (
            {"inputs": [{**BUTTON_3, "press_debounce_s": "soon"}]},
            r"setting inputs\[0\]\.press_debounce_s .*valid number.*a press must hold",
        ),
        (
            {"inputs": [{**BUTTON_3, "debounce_s": 61}]},
            r"setting inputs\[0\]\.debounce_s .*less than or equal to 60; use seconds",
        ),
        (
            {"inputs": [{"name": "r", "kind": "rotary", "a_pin": 4, "b_pin": 5, "debounce_s": 0}]},
            r"setting inputs\[0\]\.debounce_s \(EXHIBIT_INPUTS\): a rotary encoder is not "
            r"debounced by time .*; remove this setting$",
        ),
        ({"batch_max_records": 5000}, r"setting batch_max_records .*; use 1-1000"),
        ({"session_idle_s": 0}, r"setting session_idle_s .*; use seconds between 0 and 3600"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, r"setting reconnect_max_s .* below"),
        (
            {"custody_timeout_s": 120, "custody_timeout_max_s": 60},
            r"setting custody_timeout_max_s \(EXHIBIT_CUSTODY_TIMEOUT_MAX_S\): .* below",
        ),
        ({"custody": "mqtt"}, r"setting custody \(EXHIBIT_CUSTODY\): .*fleet.*broker"),
        ({"retention_days": -1}, r"setting retention_days \(EXHIBIT_RETENTION_DAYS\)"),
        ({"retention_max_mb": 0}, r"setting retention_max_mb \(EXHIBIT_RETENTION_MAX_MB\)"),
        ({"bogus": 1}, r"setting bogus .*not a setting"),
        # bad broker URLs
        (
            {"broker_url": "http://broker:1883"},
            r"setting broker_url \(EXHIBIT_BROKER_URL\): .* must start with mqtts://, wss://",
        ),
        ({"broker_url": "mqtt://:1883"}, r"setting broker_url .* has no host"),
        ({"broker_url": "mqtt://b:http"}, r"setting broker_url .* invalid port"),
        ({"broker_url": "mqtt://b:1883/x"}, r"setting broker_url .* only ws:// and wss://"),
        # missing or half credentials
        (
            {"broker_url": "mqtts://broker:8883"},
            r"setting username \(EXHIBIT_USERNAME\): mqtts://broker:8883 needs credentials",
        ),
        (
            {"broker_url": "wss://broker/mqtt"},
            r"setting username .*wss://broker:443/mqtt needs credentials",
        ),
        ({"password": "pw"}, r"setting username .*a password is set without a username"),
        ({"username": "e1"}, r"setting password \(EXHIBIT_PASSWORD\): username 'e1' has no"),
        # TLS files
        (
            {**TLS, "tls_ca_file": "/no/such/ca.crt"},
            r"setting tls_ca_file \(EXHIBIT_TLS_CA_FILE\): /no/such/ca.crt does not exist",
        ),
        (
            {**TLS, "tls_cert_file": __file__},
            r"setting tls_key_file \(EXHIBIT_TLS_KEY_FILE\): .* go together",
        ),
        (
            {"tls_ca_file": __file__},
            r"setting tls_ca_file .*broker_url mqtt://127.0.0.1:1883 is not TLS",
        ),
    ],
)
def test_bad_settings_are_one_line_config_errors(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(**({"exhibit_id": "e1"} if values else {}) | values)
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


def test_a_password_in_the_broker_url_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(exhibit_id="e1", broker_url="mqtt://exhibit:hunter2@broker:1883")
    assert "hunter2" not in str(caught.value)
    assert "must not contain credentials" in str(caught.value)


def test_tls_and_websocket_urls_with_credentials_and_files(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        exhibit_id="e1",
        broker_url="wss://broker.example.org/mqtt",
        username="e1",
        password="pw",
        tls_ca_file=ca,
    )
    assert settings.broker_url == "wss://broker.example.org:443/mqtt"
    endpoint = settings.endpoint
    assert (endpoint.transport, endpoint.path, endpoint.tls) == ("websockets", "/mqtt", True)
    assert settings.tls is not None
    assert settings.tls.tls_set_kwargs() == {"ca_certs": str(ca), "certfile": None, "keyfile": None}


def test_every_input_kind_with_its_pins_and_count_names() -> None:
    settings = load_settings(
        exhibit_id="e1",
        inputs=[
            {"name": "start", "kind": "button", "pin": 17, "hold_s": 2},
            {"name": "pir", "kind": "motion", "pin": 4},
            {"name": "near", "kind": "distance", "echo_pin": 24, "trigger_pin": 23},
            {"name": "track", "kind": "line", "pin": 5, "count_on": "line"},
            {"name": "door", "kind": "beam", "pin": 6},
            {"name": "dial", "kind": "rotary", "a_pin": 20, "b_pin": 21},
        ],
        indicator={"pin": 27, "pwm": True},
    )
    assert [i.kind for i in settings.inputs] == list(InputKind)
    assert settings.count_names() == [
        "start",
        "start_hold",
        "pir",
        "near",
        "track",
        "door",
        "dial_cw",
        "dial_ccw",
    ]
    debounces = [(i.press_debounce, i.release_debounce) for i in settings.inputs[:5]]
    assert debounces == [(0.03, 0.03), (0.1, 3.0), (0.0, 0.0), (0.02, 0.02), (0.01, 0.1)]
    assert settings.inputs[2].pins() == {"echo_pin": 24, "trigger_pin": 23}
    assert settings.indicator is not None
    assert settings.indicator.pwm is True


def test_config_hash_changes_with_the_inputs_only() -> None:
    one = load_settings(exhibit_id="e1", inputs=[BUTTON_3])
    same = load_settings(exhibit_id="e2", inputs=[BUTTON_3])
    other = load_settings(exhibit_id="e1", inputs=[{**BUTTON_3, "pin": 4}])
    assert one.config_hash() == same.config_hash() != other.config_hash()


def test_environment_strings_become_numbers_booleans_and_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("exhibit_exhibit_id", "e1")  # names are case-insensitive
    monkeypatch.setenv("EXHIBIT_INFLIGHT_WINDOW", "20")
    monkeypatch.setenv("EXHIBIT_SESSION_IDLE_S", "12.5")
    monkeypatch.setenv("EXHIBIT_INDICATOR", '{"pin": 27}')
    monkeypatch.setenv("EXHIBIT_INDICATOR__PWM", "true")
    monkeypatch.setenv("EXHIBIT_NOT_A_SETTING", "ignored")
    settings = load_settings()
    assert (settings.exhibit_id, settings.inflight_window, settings.session_idle_s) == (
        "e1",
        20,
        12.5,
    )
    assert settings.indicator is not None
    assert (settings.indicator.pin, settings.indicator.pwm) == (27, True)
    monkeypatch.setenv("EXHIBIT_INFLIGHT_WINDOW", "many")
    with pytest.raises(ConfigError, match=r"setting inflight_window .*valid integer.*; use 1-1000"):
        load_settings()


def test_an_unknown_key_in_the_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('exhibit_id = "e1"\nbucket_secs = 30\n[indicator]\npin = 27\n')
    monkeypatch.setenv("EXHIBIT_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"^setting bucket_secs \(config\): is not a setting"):
        load_settings()


def test_building_settings_directly_checks_them_too() -> None:
    with pytest.raises(ConfigError, match=r"setting inputs\[0\]\.pin .*less than or equal to 27"):
        AgentSettings(exhibit_id="e1", inputs=[{"name": "b", "kind": "button", "pin": 28}])
    with pytest.raises(ConfigError, match=r"setting inflight_window .* \(and 1 more problem\)"):
        AgentSettings(exhibit_id="e1", keepalive_s=1, inflight_window=0)
