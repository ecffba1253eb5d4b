"""The whole production path: `fleet-api broker` commands, the rendered mosquitto.conf, the
real Mosquitto started from it (dynamic-security plugin, TLS, WebSocket, service and
control listeners, persistence, pid file), the agent and the ingest connecting with
exactly the settings the commands printed, and a revoke that takes effect at once.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.admin import main
from broker.endpoint import BrokerEndpoint
from broker.mosquitto import INSTALL_HINT, free_port, mosquitto_binary, wait_listening
from broker.tls import TlsSettings
from broker.topics import Channel, exhibit_topic, subscription
from tests.broker.mqtt_probe import NOT_AUTHORIZED, Probe, connack_refused, connect
from tests.broker.secured import wait_for_socket
from tests.conftest import require

pytestmark = pytest.mark.integration

EXHIBIT, SERVICE = "exhibit-001", "fleet-ingest"


@dataclass
class Deployment:
    root: Path
    ports: dict[str, int]
    agent_env: dict[str, str]
    ingest_env: dict[str, str]
    process: subprocess.Popen[bytes]
    probes: list[Probe]

    def admin(self, *argv: str) -> int:
        return main([*argv, "--control-file", str(self.root / "fleet-control.env")])

    def agent(self, *, password: str | None = None) -> Probe:
        env = self.agent_env
        probe = connect(
            BrokerEndpoint.parse(env["EXHIBIT_BROKER_URL"]),
            username=env["EXHIBIT_USERNAME"],
            password=password or env["EXHIBIT_PASSWORD"],
            tls=TlsSettings(ca_file=Path(env["EXHIBIT_TLS_CA_FILE"])),
            client_id=env["EXHIBIT_EXHIBIT_ID"],
        )
        self.probes.append(probe)
        return probe

    def ingest_worker(self, number: int) -> Probe:
        env = self.ingest_env
        probe = connect(
            BrokerEndpoint.parse(env["FLEET_MQTT_URL"]),
            username=env["FLEET_MQTT_USERNAME"],
            password=env["FLEET_MQTT_PASSWORD"],
            tls=TlsSettings(
                ca_file=Path(env["FLEET_MQTT_CA_FILE"]),
                cert_file=Path(env["FLEET_MQTT_CERT_FILE"]),
                key_file=Path(env["FLEET_MQTT_KEY_FILE"]),
            ),
            client_id=f"fleet-ingest:{number}",
        )
        self.probes.append(probe)
        return probe


def _env_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


@pytest.fixture
def deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Deployment]:
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    ports = {name: free_port() for name in ("tls", "websocket", "service")}
    socket_dir = Path(tempfile.mkdtemp(prefix="mq-"))  # a Unix socket path is short
    control = ["--control-file", str(tmp_path / "fleet-control.env")]
    dynsec = ["--dynsec-file", str(tmp_path / "dynsec" / "dynamic-security.json")]
    dynsec += ["--control-socket", str(socket_dir / "control.sock")]
    certs = tmp_path / "certs"
    assert main(["dev-ca", str(certs), "--client", SERVICE]) == 0
    ca = str(certs / "ca.crt")
    config = tmp_path / "mosquitto.conf"
    assert main(["render-config", *dynsec, "--certs-dir", str(certs),
                 "--persistence-dir", str(tmp_path / "data"),
                 "--pid-file", str(tmp_path / "mosquitto.pid"),
                 "--log-dest", f"file {tmp_path / 'mosquitto.log'}",
                 "--bind", "127.0.0.1", "--service-bind", "127.0.0.1",
                 "--tls-port", str(ports["tls"]), "--websocket-port", str(ports["websocket"]),
                 "--websocket-all-interfaces",
                 "--service-port", str(ports["service"]), "--out", str(config),
                 # Started as root (containers), keep root: see MosquittoProcess.
                 *(["--user", "root"] if os.geteuid() == 0 else [])]) == 0  # fmt: skip
    assert main(["init", *dynsec, *control]) == 0
    (tmp_path / "data").mkdir()
    binary = mosquitto_binary()
    assert binary is not None
    process = subprocess.Popen([binary, "-c", str(config)])
    try:
        for port in ports.values():
            assert wait_listening("127.0.0.1", port, 10), (tmp_path / "mosquitto.log").read_text()
        wait_for_socket(socket_dir / "control.sock")
        capsys.readouterr()
        wss = f"wss://127.0.0.1:{ports['websocket']}/mqtt"
        assert main(["add-exhibit", EXHIBIT, *control, "--ca-file", ca, "--broker-url", wss]) == 0
        agent_env = _env_lines(capsys.readouterr().out)
        ingest_env_file = tmp_path / "ingest.env"
        assert main(["add-service", SERVICE, *control, "--ca-file", ca,
                     "--broker-url", f"mqtts://127.0.0.1:{ports['service']}",
                     "--cert-file", str(certs / f"client-{SERVICE}.crt"),
                     "--key-file", str(certs / f"client-{SERVICE}.key"),
                     "--env-out", str(ingest_env_file)]) == 0  # fmt: skip
        deployment = Deployment(
            tmp_path, ports, agent_env, _env_lines(ingest_env_file.read_text()), process, []
        )
        yield deployment
        for probe in deployment.probes:
            probe.close()
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_production_config_end_to_end(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # The env lines the commands printed are all the agent and the ingest get.
    assert deployment.agent_env["EXHIBIT_BROKER_URL"].startswith("wss://")
    group = deployment.ingest_env["FLEET_MQTT_SHARE_GROUP"]
    assert group.startswith("ingest-")
    workers = [deployment.ingest_worker(n) for n in (1, 2)]
    for worker in workers:
        assert worker.connack == 0
        assert worker.subscribe(subscription(Channel.COUNTS, share_group=group)) == [1]
    agent = deployment.agent()
    assert agent.connack == 0
    counts = exhibit_topic(EXHIBIT, Channel.COUNTS)
    assert agent.publish(counts, b'{"n": 1}') == 0
    # Two workers of one service account stay connected side by side (client ids are
    # free on the service listener) and share the load: exactly one gets the message.
    workers[0].wait(
        "the shared subscription to deliver",
        lambda: len(workers[0].messages + workers[1].messages) == 1,
    )
    assert [w.disconnects for w in workers] == [[], []]

    anonymous = connect(
        BrokerEndpoint.parse(deployment.agent_env["EXHIBIT_BROKER_URL"]),
        username=None,
        password=None,
        tls=TlsSettings(ca_file=Path(deployment.agent_env["EXHIBIT_TLS_CA_FILE"])),
    )
    deployment.probes.append(anonymous)
    assert connack_refused(anonymous) == NOT_AUTHORIZED

    assert (deployment.root / "mosquitto.pid").read_text().strip() == str(deployment.process.pid)
    assert deployment.admin("list") == 0
    assert capsys.readouterr().out == f"{EXHIBIT}\texhibit\n{SERVICE}\tservice\n"
    assert deployment.admin("revoke", EXHIBIT) == 0
    agent.wait_disconnected()  # the plugin dropped it at once
    assert connack_refused(deployment.agent()) == NOT_AUTHORIZED

    # persistence is on, and the broker can write where the config says.
    deployment.process.terminate()
    assert deployment.process.wait(10) == 0
    assert (deployment.root / "data" / "mosquitto.db").is_file()
    log = (deployment.root / "mosquitto.log").read_text()
    assert "Error" not in log, log


def test_the_websocket_listener_ignores_the_bind_address(deployment: Deployment) -> None:
    """Why render-config wants --websocket-all-interfaces next to --bind: the TLS listener
    bound to 127.0.0.1 is not on ::1, the WebSocket one (same --bind) is."""
    ipv6 = socket.has_ipv6 and _accepts(("::1", 0))
    if not ipv6:
        pytest.skip("no IPv6 loopback here to show it on")
    assert not _accepts(("::1", deployment.ports["tls"]))
    assert _accepts(("::1", deployment.ports["websocket"]))


def _accepts(address: tuple[str, int]) -> bool:
    host, port = address
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            if port == 0:
                sock.bind((host, 0))
                return True
            sock.settimeout(2)
            sock.connect((host, port))
            return True
    except OSError:
        return False
