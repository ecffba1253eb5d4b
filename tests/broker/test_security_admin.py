"""`fleet-api broker ...` (broker.admin.main) and the production config it renders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broker.admin import main
from broker.control import ControlAccess
from broker.errors import BrokerConfigError
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


@pytest.fixture
def control_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Through the environment, as on a server where the env file names them.
    path = tmp_path / "fleet-control.env"
    monkeypatch.setenv("FLEET_BROKER_CONTROL_FILE", str(path))
    monkeypatch.setenv("FLEET_BROKER_DYNSEC_FILE", str(tmp_path / "dynsec" / "dynsec.json"))
    monkeypatch.setenv("FLEET_BROKER_CONTROL_SOCKET", str(tmp_path / "control.sock"))
    return path


def test_init_writes_the_files_once_and_says_where(
    control_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "services share group: ingest-" in err
    assert ControlAccess.read(control_file).password not in err
    assert (tmp_path / "dynsec" / "dynsec.json").is_file()
    assert main(["init"]) == 1
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["revoke", "exhibit-404"], "cannot connect to the broker's control socket"),
        (["add-exhibit", "exhibit-001", "--broker-url", "http://x"], "must start with mqtts://"),
        (["reload", "--pid-file", "/nonexistent/m.pid"], "cannot read a pid from"),
        (["init", "--import-passwd", "/nonexistent"], "needs both --import-passwd and"),
    ],
)
def test_user_mistakes_are_one_line_errors(
    control_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if argv[0] != "init":
        assert main(["init"]) == 0
        capsys.readouterr()
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("fleet-api broker: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_account_commands_without_the_admin_file_say_how_to_get_it(
    control_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert "fleet-api broker init" in err
    assert str(control_file) in err


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
        "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
        "plugin_opt_config_file /var/lib/mosquitto/dynsec/dynamic-security.json",
        "listener 0 /run/mosquitto/control.sock",
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
    assert not any(line.split()[0] in ("password_file", "acl_file") for line in lines)
    assert lines.count("use_username_as_clientid true") == 2  # both exhibit listeners
    assert MAX_PACKET_BYTES > MAX_PAYLOAD_BYTES


def test_every_network_listener_speaks_tls() -> None:
    blocks = render_security(EXAMPLE).split("\nlistener ")[1:]
    assert len(blocks) == 4
    assert blocks.pop().startswith("0 /run/mosquitto/control.sock")  # a Unix socket
    for block in blocks:
        assert {"cafile", "certfile", "keyfile"} <= {line.split()[0] for line in _directives(block)}
    assert "require_certificate true" in blocks[2]  # the service listener


def test_websocket_listener_is_optional_and_base_conf_is_included() -> None:
    text = render_production(ProductionConfig())
    assert "protocol websockets" not in text
    assert BASE_CONF.read_text() in text


def test_render_config_options(tmp_path: Path) -> None:
    out = tmp_path / "mosquitto.conf"
    plugin = tmp_path / "dynsec.so"
    argv = ["render-config", "--out", str(out), "--certs-dir", "/srv/certs", "--tls-port", "18883"]
    argv += ["--websocket-port", "443", "--service-port", "0", "--bind", "10.0.0.5"]
    argv += ["--websocket-all-interfaces", "--dynsec-plugin", str(plugin)]
    argv += ["--dynsec-file", "/srv/dynsec/d.json", "--control-socket", "/run/m/c.sock"]
    assert main([*argv, "--log-dest", "syslog", "--user", "mqtt"]) == 0
    lines = _directives(out.read_text())
    assert {"listener 18883 10.0.0.5", "listener 443", "log_dest syslog"} <= set(lines)
    assert {"cafile /srv/certs/ca.crt", "user mqtt", f"plugin {plugin}"} <= set(lines)
    assert {"plugin_opt_config_file /srv/dynsec/d.json", "listener 0 /run/m/c.sock"} <= set(lines)
    assert not any(re.match(r"listener \d+$", line) for line in lines if line != "listener 443")


def test_a_websocket_listener_cannot_pretend_to_honour_bind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Measured: Mosquitto 2.0.11 binds "listener N 127.0.0.1" + "protocol websockets" to
    # every interface (tests/broker/test_security_production.py shows it).
    argv = ["render-config", "--bind", "127.0.0.1", "--websocket-port", "8443"]
    assert main([*argv, "--dynsec-plugin", "/x.so"]) == 2
    err = capsys.readouterr().err
    assert "--bind 127.0.0.1 cannot hold for --websocket-port 8443" in err
    assert "--websocket-all-interfaces" in err
    with pytest.raises(BrokerConfigError, match="every interface"):
        render_security(ProductionConfig(bind="127.0.0.1", websocket_port=8443))


def test_render_config_without_the_plugin_names_the_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("broker.admin.find_dynsec_plugin", lambda: None)
    assert main(["render-config"]) == 2
    assert "apt-get install mosquitto, or pass --dynsec-plugin" in capsys.readouterr().err
