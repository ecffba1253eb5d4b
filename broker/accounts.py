"""Broker accounts: add, rotate, revoke, list and re-sync exhibits and services, live.

Accounts live in Mosquitto's dynamic-security plugin. Every change is a command over
``$CONTROL`` (``broker.control``) that the broker applies at once and saves itself:

- add: an exhibit gets a role of its own (``exhibit:<id>``, its literal topics) and a
  client holding it; a service gets a client holding the shared ``fleet-service`` role;
- rotate: ``setClientPassword``; revoke: ``deleteClient`` (and the exhibit's role). The
  plugin disconnects that client at once, so the old password stops working immediately;
- sync: every role is set to the ACLs ``broker.acl`` derives from ``broker.topics`` now,
  so a new channel reaches the exhibits already deployed (``modifyRole`` does not
  disconnect anyone; a new subscription right is used at the agent's next connect).

``reconcile`` brings the accounts to a wanted list (the Ansible inventory): a known
password is checked against the broker's own file, read-only, so a second run changes
nothing. Passwords are returned to the caller once and never logged or stored in clear.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.acl import (
    ADMIN_ACLS,
    ADMIN_ROLE,
    ADMIN_USERNAME,
    SERVICE_ROLE,
    Acl,
    AclType,
    Role,
    exhibit_acls,
    role_name,
    service_acls,
    share_group_of,
    validate_account_name,
)
from broker.control import ControlClient
from broker.dynsec import Document, role_from_names, role_json
from broker.errors import AccountExists, ControlError, ReloadError, UnknownAccount
from broker.passwords import generate_password

NEW_FILE_MODE = 0o640


@dataclass(frozen=True, slots=True)
class Account:
    """One broker account; ``role`` None means it holds none of our roles (made by hand)."""

    name: str
    role: Role | None


@dataclass(frozen=True, slots=True)
class Issued:
    """A freshly issued credential: shown once to the operator, never stored in clear."""

    name: str
    role: Role
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Wanted:
    """An account the inventory wants, with its password."""

    name: str
    role: Role
    password: str = field(repr=False)


@dataclass
class Report:
    """What ``reconcile`` changed, by account name."""

    added: list[str] = field(default_factory=list)
    changed_password: list[str] = field(default_factory=list)
    changed_role: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    roles_synced: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return any(vars(self).values())


class BrokerAccounts:
    """The accounts of one running Mosquitto, through its dynamic-security plugin."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def add(self, name: str, role: Role) -> Issued:
        """Create an account with a new random password; raise AccountExists if taken."""
        validate_account_name(name)
        if self._client_roles(name) is not None:
            raise AccountExists(
                f"broker account {name!r} already exists: use 'rotate {name}' for a new "
                f"password or 'revoke {name}' first"
            )
        password = generate_password()
        self._create(name, role, password)
        return Issued(name, role, password)

    def rotate(self, name: str) -> Issued:
        """Replace an account's password; its connection is dropped and the old one refused."""
        role = self.role_of(name)
        password = generate_password()
        self._run("setClientPassword", username=name, password=password)
        return Issued(name, role, password)

    def revoke(self, name: str) -> None:
        """Remove an account (and an exhibit's own role); its connection is dropped at once."""
        if self._client_roles(name) is None:
            raise UnknownAccount(f"no broker account {name!r}")
        self._run("deleteClient", username=name)
        self._delete_role(role_name(name, Role.EXHIBIT))

    def role_of(self, name: str) -> Role:
        """The role of an existing account of ours; UnknownAccount otherwise."""
        rolenames = self._client_roles(name)
        role = None if rolenames is None else role_from_names(name, rolenames)
        if role is None:
            raise UnknownAccount(
                f"no broker account {name!r}"
                if rolenames is None
                else f"broker account {name!r} holds roles {sorted(rolenames)}, not ours: "
                f"'revoke {name}' then add it again"
            )
        return role

    def accounts(self) -> list[Account]:
        """Every account but the admin, sorted by name."""
        answer = self._run("listClients", verbose=True)
        found = []
        for client in answer.get("data", {}).get("clients", []):
            name = str(client["username"])
            if name != ADMIN_USERNAME:
                rolenames = {str(r["rolename"]) for r in client.get("roles", [])}
                found.append(Account(name, role_from_names(name, rolenames)))
        return sorted(found, key=lambda account: account.name)

    def share_group(self) -> str | None:
        """The one shared-subscription group services may join."""
        return share_group_of(self._role_acls(SERVICE_ROLE) or ())

    def sync(self) -> list[str]:
        """Set every role to the ACLs the contract gives it now; the role names changed."""
        group = self.share_group()
        if group is None:
            raise ControlError(
                f"the broker has no {SERVICE_ROLE!r} role with a share group: was it set up "
                "with 'fleet-api broker init'?"
            )
        wanted: dict[str, tuple[Acl, ...]] = {
            ADMIN_ROLE: ADMIN_ACLS,
            SERVICE_ROLE: service_acls(group),
        }
        for account in self.accounts():
            if account.role is Role.EXHIBIT:
                wanted[role_name(account.name, Role.EXHIBIT)] = exhibit_acls(account.name)
        return [name for name, acls in sorted(wanted.items()) if self._set_role(name, acls)]

    def reconcile(
        self, wanted: Sequence[Wanted], *, stored: Document, exclusive: bool, dry_run: bool = False
    ) -> Report:
        """Bring the accounts to ``wanted``; ``stored`` (the broker's file) checks passwords."""
        report = Report()
        present = {account.name: account.role for account in self.accounts()}
        for account in wanted:
            validate_account_name(account.name)
            if account.name not in present:
                report.added.append(account.name)
                if not dry_run:
                    self._create(account.name, account.role, account.password)
                continue
            if present[account.name] is not account.role:
                report.changed_role.append(account.name)
                if not dry_run:
                    self.revoke(account.name)
                    self._create(account.name, account.role, account.password)
                continue
            known = stored.accounts.get(account.name)
            if (
                known is None
                or known.password is None
                or not known.password.matches(account.password)
            ):
                report.changed_password.append(account.name)
                if not dry_run:
                    self._run("setClientPassword", username=account.name, password=account.password)
        if exclusive:
            for name in sorted(present.keys() - {account.name for account in wanted}):
                report.revoked.append(name)
                if not dry_run:
                    self.revoke(name)
        if not dry_run:
            report.roles_synced = self.sync()
        return report

    def _create(self, name: str, role: Role, password: str) -> None:
        rolename = role_name(name, role)
        if role is Role.EXHIBIT:
            self._set_role(rolename, exhibit_acls(name))
        try:
            roles = [{"rolename": rolename}]
            self._run("createClient", username=name, password=password, roles=roles)
        except ControlError as exc:
            if "already exists" in str(exc):
                raise AccountExists(f"broker account {name!r} already exists") from None
            raise

    def _set_role(self, rolename: str, acls: Iterable[Acl]) -> bool:
        """Create the role or set its ACLs; False if it already had exactly these."""
        wanted = tuple(sorted(acls))
        current = self._role_acls(rolename)
        if current == wanted:
            return False
        command = "createRole" if current is None else "modifyRole"
        self._control.execute([{"command": command, **role_json(rolename, wanted)}])
        return True

    def _role_acls(self, rolename: str) -> tuple[Acl, ...] | None:
        try:
            answer = self._run("getRole", rolename=rolename)
        except ControlError as exc:
            if "not found" in str(exc):
                return None
            raise
        acls = answer.get("data", {}).get("role", {}).get("acls", [])
        return tuple(
            sorted(Acl(AclType(a["acltype"]), str(a["topic"])) for a in acls if a.get("allow"))
        )

    def _delete_role(self, rolename: str) -> None:
        try:
            self._run("deleteRole", rolename=rolename)
        except ControlError as exc:
            if "not found" not in str(exc):
                raise

    def _client_roles(self, name: str) -> set[str] | None:
        try:
            answer = self._run("getClient", username=name)
        except ControlError as exc:
            if "not found" in str(exc):
                return None
            raise
        roles = answer.get("data", {}).get("client", {}).get("roles", [])
        return {str(role["rolename"]) for role in roles}

    def _run(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self._control.execute([{"command": command, **arguments}])[0]


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping its owner and group.

    The mode is ``mode`` if given (a secret: 0600), else the old file's, else 0640.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        before = path.stat()
    except FileNotFoundError:
        before = None
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as tmp_file:
            tmp_file.write(text)
            tmp_file.flush()
            # mkstemp made it 0600: give it the old file's mode or the default for a new one.
            if mode is None:
                mode = before.st_mode & 0o7777 if before else NEW_FILE_MODE
            os.fchmod(tmp_file.fileno(), mode)
            if before and (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(tmp_file.fileno(), before.st_uid, before.st_gid)
            os.fsync(tmp_file.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # The rename is durable only once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def reload_broker(pid_file: Path) -> int:
    """Send SIGHUP to the Mosquitto whose pid is in ``pid_file`` (certificates); return the pid."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as exc:
        raise ReloadError(
            f"cannot read a pid from {pid_file} ({exc}): set pid_file in mosquitto.conf, or "
            "reload with 'systemctl reload mosquitto'"
        ) from None
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise ReloadError(
            f"cannot signal mosquitto (pid {pid} from {pid_file}): {exc.strerror}; "
            "is it running, and are you root or its user?"
        ) from None
    return pid


def wanted_from(entries: Iterable[Mapping[str, str]]) -> list[Wanted]:
    """``Wanted`` accounts from ``{name, role, password}`` mappings (the Ansible module's input)."""
    return [Wanted(e["name"], Role(e["role"]), e["password"]) for e in entries]
