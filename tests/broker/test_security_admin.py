"""`fleet-api broker ...` (broker.admin.main) and the production config it renders."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from broker import passwords
from broker.admin import main
from broker.limits import MAX_PAYLOAD_BYTES
from broker.mosquitto import BASE_CONF
from broker.mosquitto.production import (
    EXAMPLE,
    EXAMPLE_CONF,
    MAX_PACKET_BYTES,
    ProductionConfig,
    render_production,
    render_security,
)
from broker.tls import TlsSettings
from fleet_api.settings import Settings, load_settings


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    # Through the environment, as on a server where the env file names them.
    monkeypatch.setenv("FLEET_BROKER_PASSWD_FILE", str(tmp_path / "passwd"))
    monkeypatch.setenv("FLEET_BROKER_ACL_FILE", str(tmp_path / "acl"))
    monkeypatch.delenv("FLEET_BROKER_PID_FILE", raising=False)
    return tmp_path / "passwd", tmp_path / "acl"


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_add_exhibit_prints_the_agents_settings_once_and_logs_no_secret(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert main(["add-exhibit", "exhibit-001", "--broker-url", "mqtts://broker.example.org"]) == 0
    out, err = capsys.readouterr()
    env = _env(out)
    assert env == {
        "EXHIBIT_EXHIBIT_ID": "exhibit-001",
        "EXHIBIT_BROKER_URL": "mqtts://broker.example.org:8883",
        "EXHIBIT_USERNAME": "exhibit-001",
        "EXHIBIT_PASSWORD": env["EXHIBIT_PASSWORD"],
        "EXHIBIT_TLS_CA_FILE": "/etc/exhibit-agent/broker-ca.crt",
    }
    password = env["EXHIBIT_PASSWORD"]
    assert out.count(password) == 1
    assert password not in err
    assert password not in caplog.text
    assert "systemctl reload mosquitto" in err
    passwd, acl = files
    assert password not in passwd.read_text() + acl.read_text()
    hashed = passwords.parse_password_file(passwd.read_text())["exhibit-001"]
    assert passwords.verify_password(password, hashed)


def test_add_service_writes_its_settings_to_an_owner_only_file(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "ingest.env"
    argv = ["add-service", "fleet-ingest", "--env-out", str(env_file), "--ca-file", "/c/ca.crt"]
    argv += ["--cert-file", "/c/ingest.crt", "--key-file", "/c/ingest.key"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert env_file.stat().st_mode & 0o777 == 0o600
    env = _env(env_file.read_text())
    assert env["FLEET_MQTT_URL"] == "mqtts://localhost:8884"
    assert env["FLEET_MQTT_USERNAME"] == "fleet-ingest"
    assert (env["FLEET_MQTT_CERT_FILE"], env["FLEET_MQTT_KEY_FILE"]) == (
        "/c/ingest.crt",
        "/c/ingest.key",
    )
    assert env["FLEET_MQTT_PASSWORD"] not in err


def test_rotate_prints_a_new_password_and_revoke_removes(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add-exhibit", "exhibit-001"]) == 0
    first = _env(capsys.readouterr().out)["EXHIBIT_PASSWORD"]
    assert main(["rotate", "exhibit-001"]) == 0
    second = _env(capsys.readouterr().out)["EXHIBIT_PASSWORD"]
    assert second != first
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "exhibit-001\texhibit\n"
    assert main(["revoke", "exhibit-001"]) == 0
    out, err = capsys.readouterr()
    assert (out, err.splitlines()[0]) == ("", "revoked exhibit-001")
    assert main(["list"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["revoke", "exhibit-404"], "no broker account 'exhibit-404'"),
        (["add-exhibit", "Exhibit 1"], "account name 'Exhibit 1' is not valid"),
        (["add-exhibit", "exhibit-001", "--broker-url", "http://x"], "must start with mqtts://"),
        (["reload"], "reload needs --pid-file"),
        (["reload", "--pid-file", "/nonexistent/m.pid"], "cannot read a pid from"),
    ],
)
def test_user_mistakes_are_one_line_errors(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("fleet-api broker: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_url_does_not_create_the_account(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add-exhibit", "exhibit-001", "--broker-url", "http://x"]) == 1
    # Checked before the account exists: otherwise its password would never be shown.
    assert main(["list"]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_dev_ca_reports_what_it_wrote_then_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev-ca", str(tmp_path / "ca"), "--host", "broker.local"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in first] == ["wrote"] * 4
    assert main(["dev-ca", str(tmp_path / "ca"), "--client", "fleet-ingest"]) == 0
    second = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in second] == ["kept"] * 4 + ["wrote"] * 2


# -- the production config ---------------------------------------------------------------


def test_checked_in_example_is_what_the_code_renders(capsys: pytest.CaptureFixture[str]) -> None:
    assert EXAMPLE_CONF.read_text() == render_production(EXAMPLE)
    assert main(["render-config", "--example"]) == 0
    assert capsys.readouterr().out == EXAMPLE_CONF.read_text()


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_production_config_has_every_required_setting() -> None:
    lines = _directives(render_production(EXAMPLE))
    for required in (
        "persistence true",
        "allow_anonymous false",
        "password_file /etc/mosquitto/passwd",
        "acl_file /etc/mosquitto/acl",
        f"message_size_limit {MAX_PAYLOAD_BYTES}",
        f"max_packet_size {MAX_PACKET_BYTES}",
        "max_queued_messages 1000000",
        "listener 8883",
        "listener 443",
        "protocol websockets",
        "listener 8884",
        "persistence_location /var/lib/mosquitto/",
        "pid_file /run/mosquitto/mosquitto.pid",
        "per_listener_settings false",
    ):
        assert required in lines, required
    assert not any(line.startswith("allow_anonymous true") for line in lines)
    assert lines.count("use_username_as_clientid true") == 2  # both exhibit listeners
    assert MAX_PACKET_BYTES > MAX_PAYLOAD_BYTES


def test_every_listener_speaks_tls() -> None:
    blocks = render_security(EXAMPLE).split("\nlistener ")[1:]
    assert len(blocks) == 3
    for block in blocks:
        assert {"cafile", "certfile", "keyfile"} <= {line.split()[0] for line in _directives(block)}
    assert "require_certificate true" in blocks[2]  # the service listener


def test_websocket_listener_is_optional_and_base_conf_is_included() -> None:
    text = render_production(ProductionConfig())
    assert "protocol websockets" not in text
    assert BASE_CONF.read_text() in text


def test_render_config_options(tmp_path: Path) -> None:
    out = tmp_path / "mosquitto.conf"
    argv = ["render-config", "--out", str(out), "--certs-dir", "/srv/certs", "--tls-port", "18883"]
    argv += ["--websocket-port", "443", "--service-port", "0", "--bind", "10.0.0.5"]
    assert main([*argv, "--log-dest", "syslog", "--user", "mqtt"]) == 0
    lines = _directives(out.read_text())
    assert {"listener 18883 10.0.0.5", "listener 443 10.0.0.5", "log_dest syslog"} <= set(lines)
    assert {"cafile /srv/certs/ca.crt", "user mqtt"} <= set(lines)
    assert not any(re.match(r"listener \d+$", line) for line in lines)  # no service listener


def test_add_service_prints_the_settings_the_fleet_api_reads(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in pem.values():
        path.write_text("PEM")
    argv = ["add-service", "fleet-ingest", "--ca-file", str(pem["ca"])]
    argv += ["--cert-file", str(pem["cert"]), "--key-file", str(pem["key"])]
    assert main(argv) == 0
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"FLEET_{name.upper()}", raising=False)
    for name, value in _env(capsys.readouterr().out).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.mqtt_url == "mqtts://localhost:8884"
    assert settings.mqtt_username is not None
    assert settings.mqtt_username.get_secret_value() == "fleet-ingest"
    assert settings.mqtt_tls() == TlsSettings(
        ca_file=pem["ca"], cert_file=pem["cert"], key_file=pem["key"]
    )
