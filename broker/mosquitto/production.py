"""The production Mosquitto configuration, rendered from a dataclass of paths and ports.

Paths differ per deployment (Ansible renders this with its own values), so the config
is code, not a static file: ``render_production(ProductionConfig(...))``. A rendered
example is checked in as ``production.example.conf`` and kept in sync by a test.

The tests run the real Mosquitto with ``render_security(...)``, the same authentication,
ACL and listener block production gets, so what is tested is what is deployed.

Accounts and ACLs are Mosquitto's dynamic-security plugin (Debian's ``mosquitto`` package
ships it): unlike ``acl_file``, which 2.0.11 checks only when it delivers a message, its
roles are checked at SUBSCRIBE too, so an exhibit that asks for ``$share/...`` or for
anything not its own gets SUBACK 0x87 and never joins the ingest's shared subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.errors import BrokerConfigError
from broker.limits import MAX_PAYLOAD_BYTES
from broker.mosquitto import BASE_CONF

CONFIG_DIR = Path(__file__).parent
EXAMPLE_CONF = CONFIG_DIR / "production.example.conf"

PACKET_OVERHEAD_BYTES = 4096
"""Room above the payload limit for the rest of a PUBLISH packet: fixed header (<= 5),
topic (~100 bytes for ours), packet id and MQTT v5 properties."""
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES
PLUGIN_NAME = "mosquitto_dynamic_security.so"
PLUGIN_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
               "/usr/lib/arm-linux-gnueabihf", "/usr/lib", "/usr/local/lib")  # fmt: skip
"""Where Debian (per architecture) and a source build put the plugin."""


def find_dynsec_plugin() -> Path | None:
    """The installed dynamic-security plugin, or None."""
    for folder in PLUGIN_DIRS:
        candidate = Path(folder) / PLUGIN_NAME
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class ProductionConfig:
    """Where a deployment keeps its files and which ports it opens (Debian defaults)."""

    dynsec_plugin: Path = Path("/usr/lib/x86_64-linux-gnu") / PLUGIN_NAME
    dynsec_file: Path = Path("/var/lib/mosquitto/dynsec/dynamic-security.json")
    """Accounts and roles; the broker rewrites it, so its folder must be the broker user's."""
    control_socket: Path | None = Path("/run/mosquitto/control.sock")
    """Unix socket listener for ``fleet-api broker`` ($CONTROL); only root can connect."""
    ca_file: Path = Path("/etc/mosquitto/certs/ca.crt")
    cert_file: Path = Path("/etc/mosquitto/certs/server.crt")
    key_file: Path = Path("/etc/mosquitto/certs/server.key")
    persistence_dir: Path = Path("/var/lib/mosquitto")
    pid_file: Path | None = Path("/run/mosquitto/mosquitto.pid")
    log_dest: str = "file /var/log/mosquitto/mosquitto.log"
    user: str | None = None
    """Unix user Mosquitto drops to when started as root; None keeps its default, mosquitto."""
    bind: str | None = None
    """Address the exhibit listeners bind; None: every interface."""
    tls_port: int = 8883
    websocket_port: int | None = None
    """MQTT over WebSocket over TLS for schools whose firewalls pass only 443; None: off."""
    websocket_all_interfaces: bool = False
    """Accept that the WebSocket listener binds every interface although ``bind`` is set:
    Mosquitto 2.0.11 (libwebsockets) ignores the listener's address there (measured)."""
    service_port: int | None = 8884
    """TLS with a required client certificate, for the fleet's own services; None: off."""
    service_bind: str | None = None
    exhibits_require_client_cert: bool = False


EXAMPLE = ProductionConfig(websocket_port=443)
"""What ``production.example.conf`` is rendered from."""


def _listener(port: int, bind: str | None) -> str:
    return f"listener {port} {bind}" if bind else f"listener {port}"


def _tls(config: ProductionConfig, *, require_certificate: bool) -> list[str]:
    # No tls_version line: Mosquitto 2.0 already accepts only TLS 1.2 and 1.3.
    return [
        f"cafile {config.ca_file}",
        f"certfile {config.cert_file}",
        f"keyfile {config.key_file}",
        f"require_certificate {str(require_certificate).lower()}",
    ]


def check(config: ProductionConfig) -> ProductionConfig:
    """Refuse options Mosquitto would silently not honour."""
    if config.bind and config.websocket_port is not None and not config.websocket_all_interfaces:
        raise BrokerConfigError(
            f"--bind {config.bind} cannot hold for --websocket-port {config.websocket_port}: "
            "Mosquitto 2.0.11 binds its WebSocket listener to every interface whatever the "
            "address; drop --bind, or add --websocket-all-interfaces and close that port to "
            "other networks with a firewall"
        )
    return config


def render_security(config: ProductionConfig) -> str:
    """Authentication, roles, packet limit and the TLS / WebSocket / service / control listeners."""
    check(config)
    exhibits_cert = config.exhibits_require_client_cert
    lines = [
        "# Nobody without an account; accounts and roles in the dynamic-security plugin,",
        "# changed live by `fleet-api broker` over $CONTROL (roles: broker/acl.py).",
        "allow_anonymous false",
        f"plugin {config.dynsec_plugin}",
        f"plugin_opt_config_file {config.dynsec_file}",
        "# message_size_limit (base.conf) refuses a payload over the limit after reading it;",
        "# max_packet_size refuses a packet that is bigger still before Mosquitto buffers it",
        "# (disconnect, reason 0x95) and is announced to MQTT v5 clients in CONNACK.",
        f"max_packet_size {MAX_PACKET_BYTES}",
        "",
        "# Exhibits: MQTT over TLS.",
        _listener(config.tls_port, config.bind),
        *_tls(config, require_certificate=exhibits_cert),
        "# The client id is forced to the username: otherwise exhibit A, connecting with",
        "# exhibit B's client id, disconnects B and takes over its session (2.0.11 allows it).",
        "use_username_as_clientid true",
    ]
    if config.websocket_port is not None:
        lines += [
            "",
            "# Exhibits whose school firewall passes only 443: MQTT over WebSocket over TLS.",
            "# Mosquitto 2.0.11 binds it to every interface, whatever address is given here.",
            _listener(config.websocket_port, None),
            "protocol websockets",
            *_tls(config, require_certificate=exhibits_cert),
            "use_username_as_clientid true",
        ]
    if config.service_port is not None:
        lines += [
            "",
            "# Fleet services (ingest workers, the API): password AND a client certificate from",
            "# our CA. Client ids are free here so several workers of one account can share a",
            "# $share/ subscription; exhibits have no client certificate and cannot use it.",
            _listener(config.service_port, config.service_bind),
            *_tls(config, require_certificate=True),
        ]
    if config.control_socket is not None:
        lines += [
            "",
            "# `fleet-api broker` (the admin account, $CONTROL): a Unix socket Mosquitto makes",
            "# as root before it drops privileges, so only root can connect to it.",
            f"listener 0 {config.control_socket}",
        ]
    return "\n".join(lines) + "\n"


_HEADER = """\
# Mosquitto for the exhibit fleet, generated by `fleet-api broker render-config`
# (broker/mosquitto/production.py): change the code or its options, not this file.
# Accounts change live (`fleet-api broker add-exhibit ...`); a new certificate needs
# systemctl reload mosquitto (SIGHUP).
"""


def render_production(config: ProductionConfig) -> str:
    """The complete mosquitto.conf: base.conf, this deployment's paths, then security."""
    local = [
        f"persistence_location {str(config.persistence_dir).rstrip('/')}/",
        f"log_dest {config.log_dest}",
    ]
    if config.pid_file is not None:
        local.insert(0, f"pid_file {config.pid_file}")
    if config.user is not None:
        local.append(f"user {config.user}")
    sections = [
        _HEADER,
        "# ---- shared settings: broker/mosquitto/base.conf ----\n" + BASE_CONF.read_text(),
        "# ---- this deployment ----\n" + "\n".join(local) + "\n",
        render_security(config),
    ]
    return "\n".join(sections)
