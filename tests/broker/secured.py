"""Mosquitto as production runs it, on free loopback ports, for tests of its security.

``secured_mosquitto`` starts the real binary with ``render_security``: a password file and
ACL from an ``AccountStore`` holding the given exhibit and service accounts, a TLS
listener and a TLS WebSocket listener for exhibits, and the service listener that wants
a client certificate (from the dev CA).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from broker.accounts import AccountStore, Issued
from broker.acl import Role
from broker.devca import DevCa
from broker.mosquitto import (
    INSTALL_HINT,
    MosquittoProcess,
    free_port,
    mosquitto_binary,
    wait_listening,
)
from broker.mosquitto.production import ProductionConfig, render_security
from tests.conftest import require


@dataclass
class SecuredMosquitto:
    """The running broker, its accounts and the passwords issued to them."""

    process: MosquittoProcess
    store: AccountStore
    config: ProductionConfig
    issued: dict[str, Issued]


@contextmanager
def secured_mosquitto(
    workdir: Path, ca: DevCa, *, exhibits: Sequence[str], services: Sequence[str]
) -> Iterator[SecuredMosquitto]:
    """Start it under ``workdir``; every listener accepts connections when this yields."""
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    store = AccountStore(workdir / "passwd", workdir / "acl")
    issued = {name: store.add(name, Role.EXHIBIT) for name in exhibits}
    issued.update({name: store.add(name, Role.SERVICE) for name in services})
    config = ProductionConfig(
        passwd_file=store.passwd_file,
        acl_file=store.acl_file,
        ca_file=ca.ca_cert,
        cert_file=ca.server_cert,
        key_file=ca.server_key,
        bind="127.0.0.1",
        tls_port=free_port(),
        websocket_port=free_port(),
        service_port=free_port(),
        service_bind="127.0.0.1",
    )
    with MosquittoProcess(workdir / "mosquitto", extra_config=render_security(config)) as process:
        # The harness waits for its own listener, which Mosquitto opens first.
        for port in (config.tls_port, config.websocket_port, config.service_port):
            assert port is not None
            assert wait_listening("127.0.0.1", port, 10)
        yield SecuredMosquitto(process, store, config, issued)
