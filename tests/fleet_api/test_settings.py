"""Settings from FLEET_* variables; a bad value is one line naming the setting and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from fleet_api.errors import ConfigError
from fleet_api.main import app_settings, create_app
from fleet_api.settings import MqttEndpoint, Settings, get_settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"FLEET_{name.upper()}", raising=False)
    get_settings.cache_clear()


def test_defaults_make_a_single_machine_api_without_ingestion() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./fleet.db"
    assert (settings.mqtt_url, settings.ingest_active, settings.mqtt_endpoint()) == (
        None,
        False,
        None,
    )
    assert settings.mqtt_client_id == "fleet-ingest"


def test_values_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_MQTT_URL", "mqtt://broker.lan:1884")
    monkeypatch.setenv("FLEET_MQTT_PASSWORD", "hunter2")
    monkeypatch.setenv("FLEET_MQTT_SHARE_GROUP", "ingest")
    monkeypatch.setenv("FLEET_INGEST_BATCH_MAX", "50")
    settings = load_settings()
    assert settings.mqtt_endpoint() == MqttEndpoint("broker.lan", 1884, tls=False)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert (settings.mqtt_share_group, settings.ingest_batch_max, settings.ingest_active) == (
        "ingest",
        50,
        True,
    )
    assert load_settings(mqtt_url="mqtts://broker.lan").mqtt_endpoint() == MqttEndpoint(
        "broker.lan", 8883, tls=True
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "FLEET_INGEST_BATCH_MAX",
            "0",
            "FLEET_INGEST_BATCH_MAX='0': Input should be greater than or equal to 1; "
            "set it to the most messages",
        ),
        (
            "FLEET_INGEST_BATCH_MAX",
            "many",
            "FLEET_INGEST_BATCH_MAX='many': Input should be a valid integer",
        ),
        (
            "FLEET_MQTT_URL",
            "http://broker:1883",
            "FLEET_MQTT_URL='http://broker:1883': the scheme must be mqtt:// or mqtts://; "
            "set it to the broker as",
        ),
        ("FLEET_MQTT_URL", "mqtt://broker:99999", "the port is not a number from 1 to 65535"),
        ("FLEET_MQTT_URL", "mqtt://user:pw@broker", "put credentials in FLEET_MQTT_USERNAME"),
        (
            "FLEET_MQTT_SHARE_GROUP",
            "a/b",
            "FLEET_MQTT_SHARE_GROUP='a/b': not a valid share group name",
        ),
        ("FLEET_MQTT_CLIENT_ID", "", "FLEET_MQTT_CLIENT_ID='': not a valid client id"),
        (
            "FLEET_DATABASE_URL",
            "mysql://x/y",
            "backend 'mysql' is not supported; set it to an SQLAlchemy URL",
        ),
        ("FLEET_DATABASE_URL", "nonsense", "FLEET_DATABASE_URL='nonsense': not a database URL"),
        (
            "FLEET_MIGRATE_ON_START",
            "perhaps",
            "FLEET_MIGRATE_ON_START='perhaps': Input should be a valid boolean",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: ")
    assert expected in message


def test_secrets_are_never_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(mqtt_password=["s3cret"])
    assert "FLEET_MQTT_PASSWORD: " in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_settings_are_read_once_and_can_be_overridden_per_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEET_MQTT_CLIENT_ID", "from-env")
    assert get_settings() is get_settings()
    app: FastAPI = create_app()
    assert app_settings(app).mqtt_client_id == "from-env"
    mine = Settings(mqtt_client_id="mine")
    assert app_settings(create_app(mine)) is mine
    app.dependency_overrides[get_settings] = lambda: mine
    assert app_settings(app) is mine


def test_a_client_certificate_and_its_key_go_together(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_text("cert")
    key.write_text("key")
    tls = load_settings(mqtt_cert_file=cert, mqtt_key_file=key).mqtt_tls()
    assert (tls.cert_file, tls.key_file) == (cert, key)
    with pytest.raises(ConfigError) as caught:
        load_settings(mqtt_cert_file=cert)
    assert "FLEET_MQTT_KEY_FILE=None: a client certificate and its key go together" in str(
        caught.value
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(mqtt_key_file=key)
    assert "FLEET_MQTT_KEY_FILE" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(mqtt_cert_file=tmp_path / "missing.crt", mqtt_key_file=key)
    assert "FLEET_MQTT_CERT_FILE=" in str(caught.value)
    assert "no such file" in str(caught.value)
