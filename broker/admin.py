"""``fleet-api broker ...`` (also ``python -m broker.admin``): accounts, dev CA, production config.

    init                     the dynamic-security file and the admin file (once; can import
                             the accounts of an older password file and ACL file)
    add-exhibit EXHIBIT_ID   an account and role for one exhibit; prints the agent's settings
    add-service NAME         an account for a fleet service (the ingest); prints its settings
    rotate NAME              a new password; prints the settings again
    revoke NAME              removes the account (its connection is dropped at once)
    list                     accounts and their roles, and the services' share group
    sync                     every role set to what broker/topics.py gives it now
    reload                   SIGHUP to Mosquitto (new certificates; the pid in --pid-file)
    dev-ca DIR               development CA, broker server certificate, client certificates
    render-config            the production mosquitto.conf

Account commands talk to the running broker over ``$CONTROL`` (``broker.control``) and
take effect at once. A new password is printed once, to stdout (or to ``--env-out``, mode
0600), and nowhere else: this module uses no logging, stderr carries only status lines.
Exit status: 0 done, 1 the broker or a file could not be used, 2 bad usage or options.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from broker.accounts import BrokerAccounts, Issued, atomic_write, reload_broker
from broker.acl import Role
from broker.endpoint import BrokerEndpoint
from broker.errors import BrokerConfigError, BrokerError
from broker.mosquitto.production import (
    EXAMPLE,
    ProductionConfig,
    find_dynsec_plugin,
    render_production,
)

PROG = "fleet-api broker"
DEFAULTS = {
    "FLEET_BROKER_CONTROL_FILE": "/etc/mosquitto/fleet-control.env",
    "FLEET_BROKER_DYNSEC_FILE": str(ProductionConfig().dynsec_file),
    "FLEET_BROKER_CONTROL_SOCKET": str(ProductionConfig().control_socket),
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
    share_group: str | None = None,
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
    if issued.role is Role.SERVICE and share_group:
        lines.append(f"{prefix}SHARE_GROUP={share_group}")
    return lines


def _parser() -> argparse.ArgumentParser:
    control = argparse.ArgumentParser(add_help=False)
    control.add_argument(
        "--control-file", type=Path, metavar="FILE", help="the admin file 'init' wrote"
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
        epilog="Defaults come from " + ", ".join(sorted(DEFAULTS)) + ".",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser("init", parents=[control], help="dynamic-security and admin files")
    init.add_argument("--dynsec-file", type=Path, metavar="FILE")
    init.add_argument("--control-socket", type=Path, metavar="PATH")
    init.add_argument("--broker-user", help="chown the dynamic-security file to this user")
    init.add_argument("--import-passwd", type=Path, metavar="FILE", help="older password file")
    init.add_argument("--import-acl", type=Path, metavar="FILE", help="older generated ACL")
    for name, help_text in (("add-exhibit", "an exhibit"), ("add-service", "a fleet service")):
        add = sub.add_parser(name, parents=[control, issue], help=f"an account for {help_text}")
        add.add_argument("name", metavar="EXHIBIT_ID" if name == "add-exhibit" else "NAME")
    rotate = sub.add_parser("rotate", parents=[control, issue], help="a new password")
    rotate.add_argument("name", metavar="NAME")
    revoke = sub.add_parser("revoke", parents=[control], help="remove an account")
    revoke.add_argument("name", metavar="NAME")
    sub.add_parser("list", parents=[control], help="accounts, roles and the share group")
    sub.add_parser("sync", parents=[control], help="roles as broker/topics.py gives them now")
    reload = sub.add_parser("reload", help="SIGHUP Mosquitto (new certificates)")
    reload.add_argument("--pid-file", type=Path, metavar="FILE", required=True)

    dev_ca = sub.add_parser("dev-ca", help="development CA, server and client certificates")
    dev_ca.add_argument("directory", type=Path, metavar="DIR")
    dev_ca.add_argument(
        "--host", action="append", help="name or IP in the server certificate (repeatable)"
    )
    dev_ca.add_argument("--client", action="append", default=[], help="client cert (repeatable)")
    _render_parser(sub.add_parser("render-config", help="production mosquitto.conf"))
    return parser


def _render_parser(render: argparse.ArgumentParser) -> None:
    render.add_argument("--example", action="store_true", help="the checked-in example")
    render.add_argument("--dynsec-plugin", type=Path, metavar="FILE", help="default: found")
    render.add_argument("--dynsec-file", type=Path, metavar="FILE")
    render.add_argument("--control-socket", type=Path, metavar="PATH")
    render.add_argument("--certs-dir", type=Path, help="holds ca.crt, server.crt, server.key")
    render.add_argument("--persistence-dir", type=Path)
    render.add_argument("--pid-file", type=Path, metavar="FILE")
    render.add_argument("--log-dest", help="e.g. 'syslog' or 'file /var/log/mosquitto/m.log'")
    render.add_argument("--user", help="Unix user Mosquitto drops to")
    render.add_argument("--bind", help="address of the TLS exhibit listener (default: all)")
    render.add_argument("--tls-port", type=int)
    render.add_argument("--websocket-port", type=int, help="e.g. 443; default: no WebSocket")
    render.add_argument(
        "--websocket-all-interfaces",
        action="store_true",
        help="accept that the WebSocket listener ignores --bind (Mosquitto 2.0.11)",
    )
    render.add_argument("--service-port", type=int, help="0 turns the service listener off")
    render.add_argument("--service-bind", help="address of the service listener (default: all)")
    render.add_argument("--out", type=Path, help="write here instead of stdout")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 with a one-line error on stderr, 2 for bad usage."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BrokerConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (BrokerError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "dev-ca":
        return _dev_ca(args)
    if args.command == "render-config":
        return _render(args)
    if args.command == "reload":
        print(f"mosquitto reloaded (SIGHUP to pid {reload_broker(args.pid_file)})", file=sys.stderr)
        return 0
    control_file: Path = args.control_file or Path(_env("FLEET_BROKER_CONTROL_FILE"))
    if args.command == "init":
        return _init(args, control_file)
    url = None
    if args.command in ("add-exhibit", "add-service", "rotate") and args.broker_url:
        # Checked before a password exists: a bad option must not cost a lost password.
        url = BrokerEndpoint.parse(args.broker_url).url
    from broker.control import ControlAccess, ControlClient  # needs paho: import late

    with ControlClient(ControlAccess.read(control_file)) as control:
        accounts = BrokerAccounts(control)
        if args.command == "list":
            for account in accounts.accounts():
                role = account.role.value if account.role else "NOT OURS (no fleet role)"
                print(f"{account.name}\t{role}")
            print(f"services share group: {accounts.share_group()}", file=sys.stderr)
        elif args.command == "sync":
            changed = accounts.sync()
            print(f"roles updated: {', '.join(changed) or 'none'}", file=sys.stderr)
        elif args.command == "revoke":
            accounts.revoke(args.name)
            print(f"revoked {args.name} (disconnected now, if it was connected)", file=sys.stderr)
        else:
            if args.command == "rotate":
                issued = accounts.rotate(args.name)
            else:
                role = Role.EXHIBIT if args.command == "add-exhibit" else Role.SERVICE
                url = url or BrokerEndpoint.parse(_env(f"FLEET_BROKER_{role.name}_URL")).url
                issued = accounts.add(args.name, role)
            group = accounts.share_group() if issued.role is Role.SERVICE else None
            _emit(issued, url or _env(f"FLEET_BROKER_{issued.role.name}_URL"), args, group)
    return 0


def _init(args: argparse.Namespace, control_file: Path) -> int:
    from broker.bootstrap import initialise

    done = initialise(
        document=args.dynsec_file or Path(_env("FLEET_BROKER_DYNSEC_FILE")),
        control_file=control_file,
        control_socket=args.control_socket or Path(_env("FLEET_BROKER_CONTROL_SOCKET")),
        broker_user=args.broker_user,
        import_passwd=args.import_passwd,
        import_acl=args.import_acl,
    )
    print(f"wrote {done.document} and {done.control_file} (admin password, 0600)", file=sys.stderr)
    print(f"services share group: {done.share_group}", file=sys.stderr)
    if done.imported:
        names = ", ".join(done.imported)
        print(f"imported {len(done.imported)} accounts: {names}", file=sys.stderr)
    return 0


def _emit(issued: Issued, url: str, args: argparse.Namespace, share_group: str | None) -> None:
    lines = settings_lines(
        issued,
        broker_url=url,
        ca_file=args.ca_file or _env(f"FLEET_BROKER_{issued.role.name}_CA_FILE"),
        cert_file=args.cert_file,
        key_file=args.key_file,
        share_group=share_group,
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
    plugin = args.dynsec_plugin or find_dynsec_plugin()
    if plugin is None:
        raise BrokerConfigError(
            "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is not "
            "installed: apt-get install mosquitto, or pass --dynsec-plugin FILE"
        )
    certs: Path | None = args.certs_dir
    service_port = base.service_port if args.service_port is None else args.service_port
    return ProductionConfig(
        dynsec_plugin=plugin,
        dynsec_file=args.dynsec_file or Path(_env("FLEET_BROKER_DYNSEC_FILE")),
        control_socket=args.control_socket or Path(_env("FLEET_BROKER_CONTROL_SOCKET")),
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
        websocket_all_interfaces=args.websocket_all_interfaces,
        service_port=service_port or None,
        service_bind=args.service_bind,
    )


if __name__ == "__main__":
    raise SystemExit(main())
