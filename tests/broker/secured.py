"""Mosquitto as production runs it, on free loopback ports, for tests of its security.

``secured_mosquitto`` starts the real binary with ``render_security``: the dynamic-security
plugin with a document made by ``fleet-api broker init``'s own code, accounts added live
over ``$CONTROL`` as ``fleet-api broker add-*`` does, a TLS listener and a TLS WebSocket
listener for exhibits, the service listener that wants a client certificate (from the dev
CA), and the control socket.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from broker.accounts import BrokerAccounts, Issued
from broker.acl import Role
from broker.bootstrap import initialise
from broker.control import ControlAccess, ControlClient
from broker.devca import DevCa
from broker.mosquitto import (
    INSTALL_HINT,
    MosquittoProcess,
    free_port,
    mosquitto_binary,
    wait_listening,
)
from broker.mosquitto.production import ProductionConfig, find_dynsec_plugin, render_security
from tests.conftest import require

PLUGIN_HINT = "Debian's mosquitto package ships it: apt-get install mosquitto"


@dataclass
class SecuredMosquitto:
    """The running broker, its admin access, the passwords issued and the share group."""

    process: MosquittoProcess
    config: ProductionConfig
    access: ControlAccess
    issued: dict[str, Issued]
    share_group: str

    @contextmanager
    def accounts(self) -> Iterator[BrokerAccounts]:
        """The account commands of ``fleet-api broker``, on this broker."""
        with ControlClient(self.access) as control:
            yield BrokerAccounts(control)


def wait_for_socket(path: Path, timeout: float = 10.0) -> None:
    """Block until the control socket accepts connections (Mosquitto opens it last)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                assert time.monotonic() < deadline, f"mosquitto made no control socket {path}"
        time.sleep(0.02)


@contextmanager
def secured_mosquitto(
    workdir: Path, ca: DevCa, *, exhibits: Sequence[str], services: Sequence[str]
) -> Iterator[SecuredMosquitto]:
    """Start it under ``workdir``; every listener accepts connections when this yields."""
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    plugin = find_dynsec_plugin()
    require(plugin is not None, "mosquitto_dynamic_security.so", PLUGIN_HINT)
    assert plugin is not None
    # A Unix socket path must fit in 108 bytes: pytest's folders can be longer.
    socket_dir = Path(tempfile.mkdtemp(prefix="mq-"))
    try:
        config = ProductionConfig(
            dynsec_plugin=plugin,
            dynsec_file=workdir / "dynsec" / "dynamic-security.json",
            control_socket=socket_dir / "control.sock",
            ca_file=ca.ca_cert,
            cert_file=ca.server_cert,
            key_file=ca.server_key,
            bind="127.0.0.1",
            tls_port=free_port(),
            websocket_port=free_port(),
            websocket_all_interfaces=True,
            service_port=free_port(),
            service_bind="127.0.0.1",
        )
        assert config.control_socket is not None
        done = initialise(
            document=config.dynsec_file,
            control_file=workdir / "fleet-control.env",
            control_socket=config.control_socket,
        )
        access = ControlAccess.read(done.control_file)
        extra = render_security(config)
        with MosquittoProcess(workdir / "mosquitto", extra_config=extra) as process:
            # The harness waits for its own listener, which Mosquitto opens first.
            for port in (config.tls_port, config.websocket_port, config.service_port):
                assert port is not None
                assert wait_listening("127.0.0.1", port, 10)
            wait_for_socket(config.control_socket)
            with ControlClient(access) as control:
                accounts = BrokerAccounts(control)
                issued = {name: accounts.add(name, Role.EXHIBIT) for name in exhibits}
                issued.update({name: accounts.add(name, Role.SERVICE) for name in services})
            yield SecuredMosquitto(process, config, access, issued, done.share_group)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
