"""``fleet-api broker ...`` (also ``python -m broker.admin``): accounts, dev CA, production config.

    add-exhibit EXHIBIT_ID   credentials + ACL for one exhibit; prints the agent's settings
    add-service NAME         an account for a fleet service (the ingest); prints its settings
    rotate NAME              a new password; prints the settings again
    revoke NAME              removes the account from the password file and the ACL
    list                     accounts and their roles
    reload                   SIGHUP to Mosquitto (the pid in --pid-file)
    dev-ca DIR               development CA, broker server certificate, client certificates
    render-config            the production mosquitto.conf

A new password is printed once, to stdout (or to ``--env-out``, mode 0600), and
nowhere else: this module uses no logging, and stderr carries only status lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from broker.accounts import AccountStore, Issued, atomic_write, reload_broker
from broker.acl import Role
from broker.endpoint import BrokerEndpoint
from broker.errors import BrokerError
from broker.mosquitto.production import EXAMPLE, ProductionConfig, render_production

PROG = "fleet-api broker"
DEFAULTS = {
    "FLEET_BROKER_PASSWD_FILE": "/etc/mosquitto/passwd",
    "FLEET_BROKER_ACL_FILE": "/etc/mosquitto/acl",
    "FLEET_BROKER_EXHIBIT_URL": "mqtts://localhost:8883",
    "FLEET_BROKER_EXHIBIT_CA_FILE": "/etc/exhibit-agent/broker-ca.crt",
    "FLEET_BROKER_SERVICE_URL": "mqtts://localhost:8884",
    "FLEET_BROKER_SERVICE_CA_FILE": "/etc/exhibit-fleet/broker-ca.crt",
}
"""Environment variables read for option defaults, with the value used when unset."""
ENV_PREFIX = {Role.EXHIBIT: "EXHIBIT_", Role.SERVICE: "FLEET_MQTT_"}
"""Settings prefix of the program that uses the account: the agent, or the fleet API."""


def _env(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def settings_lines(
    issued: Issued,
    *,
    broker_url: str,
    ca_file: str | None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> list[str]:
    """``NAME=value`` lines a program needs to connect as ``issued`` (an env file)."""
    prefix = ENV_PREFIX[issued.role]
    url = BrokerEndpoint.parse(broker_url).url
    lines = [f"{prefix}EXHIBIT_ID={issued.name}"] if issued.role is Role.EXHIBIT else []
    lines += [
        f"{prefix}BROKER_URL={url}" if issued.role is Role.EXHIBIT else f"{prefix}URL={url}",
        f"{prefix}USERNAME={issued.name}",
        f"{prefix}PASSWORD={issued.password}",
    ]
    # The agent's settings say EXHIBIT_TLS_CA_FILE, the fleet API's FLEET_MQTT_CA_FILE.
    tls = "TLS_" if issued.role is Role.EXHIBIT else ""
    for key, value in (("CA", ca_file), ("CERT", cert_file), ("KEY", key_file)):
        if value:
            lines.append(f"{prefix}{tls}{key}_FILE={value}")
    return lines


def _parser() -> argparse.ArgumentParser:
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("--passwd", type=Path, metavar="FILE", help="Mosquitto password file")
    files.add_argument("--acl", type=Path, metavar="FILE", help="Mosquitto ACL file")
    files.add_argument(
        "--pid-file", type=Path, metavar="FILE", help="reload this Mosquitto after a change"
    )
    issue = argparse.ArgumentParser(add_help=False)
    issue.add_argument("--broker-url", help="URL the client connects to, e.g. mqtts://host:8883")
    issue.add_argument("--ca-file", help="CA file path on the client's machine")
    issue.add_argument("--cert-file", help="client certificate path on the client's machine")
    issue.add_argument("--key-file", help="client key path on the client's machine")
    issue.add_argument(
        "--env-out", type=Path, metavar="FILE", help="write the settings here (0600), not stdout"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Broker accounts, development CA and production config for Mosquitto.",
        epilog="Defaults come from FLEET_BROKER_PID_FILE, " + ", ".join(sorted(DEFAULTS)) + ".",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_exhibit = sub.add_parser(
        "add-exhibit", parents=[files, issue], help="credentials and ACL for an exhibit"
    )
    add_exhibit.add_argument("name", metavar="EXHIBIT_ID")
    add_service = sub.add_parser(
        "add-service", parents=[files, issue], help="an account for a fleet service (ingest)"
    )
    add_service.add_argument("name", metavar="NAME")
    rotate = sub.add_parser("rotate", parents=[files, issue], help="a new password")
    rotate.add_argument("name", metavar="NAME")
    revoke = sub.add_parser("revoke", parents=[files], help="remove an account")
    revoke.add_argument("name", metavar="NAME")
    sub.add_parser("list", parents=[files], help="accounts and roles")
    sub.add_parser("reload", parents=[files], help="SIGHUP Mosquitto (needs --pid-file)")

    dev_ca = sub.add_parser("dev-ca", help="development CA, server and client certificates")
    dev_ca.add_argument("directory", type=Path, metavar="DIR")
    dev_ca.add_argument(
        "--host", action="append", help="name or IP in the server certificate (repeatable)"
    )
    dev_ca.add_argument("--client", action="append", default=[], help="client cert (repeatable)")

    render = sub.add_parser("render-config", parents=[files], help="production mosquitto.conf")
    render.add_argument("--example", action="store_true", help="the checked-in example")
    render.add_argument("--certs-dir", type=Path, help="holds ca.crt, server.crt, server.key")
    render.add_argument("--persistence-dir", type=Path)
    render.add_argument("--log-dest", help="e.g. 'syslog' or 'file /var/log/mosquitto/m.log'")
    render.add_argument("--user", help="Unix user Mosquitto drops to")
    render.add_argument("--bind", help="address of the exhibit listeners (default: all)")
    render.add_argument("--tls-port", type=int)
    render.add_argument("--websocket-port", type=int, help="e.g. 443; default: no WebSocket")
    render.add_argument("--service-port", type=int, help="0 turns the service listener off")
    render.add_argument("--service-bind", help="address of the service listener (default: all)")
    render.add_argument("--out", type=Path, help="write here instead of stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 with a one-line error on stderr, 2 for bad usage."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (BrokerError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "dev-ca":
        return _dev_ca(args)
    if args.command == "render-config":
        return _render(args)
    store = AccountStore(
        args.passwd or Path(_env("FLEET_BROKER_PASSWD_FILE")),
        args.acl or Path(_env("FLEET_BROKER_ACL_FILE")),
    )
    pid_file: Path | None = args.pid_file or _optional_path("FLEET_BROKER_PID_FILE")
    if args.command == "list":
        for account in store.accounts():
            role = account.role.value if account.role else "NO ACL (cannot publish or read)"
            missing = "" if account.has_password else "  NO PASSWORD (cannot connect)"
            print(f"{account.name}\t{role}{missing}")
        return 0
    if args.command == "reload":
        if pid_file is None:
            raise BrokerError("reload needs --pid-file (or FLEET_BROKER_PID_FILE)")
        print(f"mosquitto reloaded (SIGHUP to pid {reload_broker(pid_file)})", file=sys.stderr)
        return 0
    if args.command == "revoke":
        store.revoke(args.name)
        print(f"revoked {args.name}", file=sys.stderr)
    else:
        role = _role(args.command, args.name, store)
        # Checked before a password exists: a bad option must not cost a lost password.
        url = BrokerEndpoint.parse(args.broker_url or _env(f"FLEET_BROKER_{role.name}_URL")).url
        issued = store.rotate(args.name) if args.command == "rotate" else store.add(args.name, role)
        _emit(issued, url, args)
    _after_change(pid_file)
    return 0


def _optional_path(env: str) -> Path | None:
    value = os.environ.get(env)
    return Path(value) if value else None


def _role(command: str, name: str, store: AccountStore) -> Role:
    if command == "add-exhibit":
        return Role.EXHIBIT
    if command == "add-service":
        return Role.SERVICE
    for account in store.accounts():
        if account.name == name and account.role is not None:
            return account.role
    return Role.EXHIBIT  # unknown: store.rotate raises UnknownAccount with the details


def _emit(issued: Issued, url: str, args: argparse.Namespace) -> None:
    lines = settings_lines(
        issued,
        broker_url=url,
        ca_file=args.ca_file or _env(f"FLEET_BROKER_{issued.role.name}_CA_FILE"),
        cert_file=args.cert_file,
        key_file=args.key_file,
    )
    text = "\n".join(lines) + "\n"
    if args.env_out:
        atomic_write(args.env_out, text, mode=0o600)
        print(
            f"{issued.role.value} {issued.name}: settings written to {args.env_out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
        print(f"{issued.role.value} {issued.name}: password shown once above", file=sys.stderr)


def _after_change(pid_file: Path | None) -> None:
    if pid_file is None:
        print(
            "takes effect when mosquitto reloads: systemctl reload mosquitto (or --pid-file)",
            file=sys.stderr,
        )
        return
    print(f"mosquitto reloaded (SIGHUP to pid {reload_broker(pid_file)})", file=sys.stderr)


def _dev_ca(args: argparse.Namespace) -> int:
    from broker.devca import DEFAULT_HOSTS, ensure_dev_ca  # needs cryptography: import late

    ca = ensure_dev_ca(args.directory, hosts=args.host or DEFAULT_HOSTS, clients=args.client)
    written = set(ca.written)
    paths = [ca.ca_cert, ca.ca_key, ca.server_cert, ca.server_key]
    for cert, key in ca.client_certs.values():
        paths += [cert, key]
    for path in paths:
        print(f"{'wrote' if path in written else 'kept '} {path}")
    return 0


def _render(args: argparse.Namespace) -> int:
    config = EXAMPLE if args.example else _production_config(args)
    text = render_production(config)
    if args.out:
        atomic_write(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _production_config(args: argparse.Namespace) -> ProductionConfig:
    base = ProductionConfig()
    certs: Path | None = args.certs_dir
    service_port = base.service_port if args.service_port is None else args.service_port
    return ProductionConfig(
        passwd_file=args.passwd or base.passwd_file,
        acl_file=args.acl or base.acl_file,
        ca_file=certs / "ca.crt" if certs else base.ca_file,
        cert_file=certs / "server.crt" if certs else base.cert_file,
        key_file=certs / "server.key" if certs else base.key_file,
        persistence_dir=args.persistence_dir or base.persistence_dir,
        pid_file=args.pid_file or base.pid_file,
        log_dest=args.log_dest or base.log_dest,
        user=args.user,
        bind=args.bind,
        tls_port=args.tls_port or base.tls_port,
        websocket_port=args.websocket_port,
        service_port=service_port or None,
        service_bind=args.service_bind,
    )


if __name__ == "__main__":
    raise SystemExit(main())
