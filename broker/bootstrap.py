"""``fleet-api broker init``: the dynamic-security document and the admin file, made once.

The document gets: deny-by-default, the admin account (a random password, written only
to the admin file, 0600), the service role with this deployment's random share group,
and, moved over from an older deployment, every account of its Mosquitto password file
and generated ACL file, password hashes unchanged, so no exhibit needs new credentials.

The folder of the document must belong to the user Mosquitto runs as: the broker writes
``<file>.new`` there and renames it over the document after every change. ``broker_user``
makes this process chown the folder and the document to that user (run as root).
"""

from __future__ import annotations

import json
import os
import pwd
import re
from dataclasses import dataclass
from pathlib import Path

from broker.accounts import atomic_write
from broker.acl import Role, new_share_group, validate_account_name, validate_share_group
from broker.control import ControlAccess
from broker.dynsec import PasswordHash, Seed, new_document
from broker.errors import CredentialsFileError
from broker.passwords import generate_password, parse_password_file

_MARKER = re.compile(r"^# (exhibit|service) (\S+)$")


@dataclass(frozen=True, slots=True)
class Initialised:
    """What ``initialise`` wrote."""

    document: Path
    control_file: Path
    share_group: str
    imported: tuple[str, ...]


def initialise(
    *,
    document: Path,
    control_file: Path,
    control_socket: Path,
    broker_user: str | None = None,
    share_group: str | None = None,
    import_passwd: Path | None = None,
    import_acl: Path | None = None,
) -> Initialised:
    """Write a new document and admin file; refuse to overwrite a document that exists."""
    if document.exists():
        raise CredentialsFileError(
            f"{document} exists already: the broker keeps it up to date itself. Change "
            "accounts with 'fleet-api broker add-exhibit|rotate|revoke' (or delete the file "
            "and every account with it, then init again)"
        )
    group = validate_share_group(share_group) if share_group else new_share_group()
    seeds = _imported(import_passwd, import_acl)
    owner = _owner(broker_user)
    password = generate_password()
    text = json.dumps(new_document(admin_password=password, share_group=group, seeds=seeds))
    document.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(document, text + "\n", mode=0o600)
    if owner is not None:
        os.chown(document.parent, *owner)
        os.chown(document, *owner)
    atomic_write(control_file, ControlAccess(control_socket, password).lines(), mode=0o600)
    return Initialised(document, control_file, group, tuple(seed.name for seed in seeds))


def _owner(user: str | None) -> tuple[int, int] | None:
    if user is None:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise CredentialsFileError(
            f"no Unix user {user!r} (the user Mosquitto runs as): is mosquitto installed?"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _imported(passwd: Path | None, acl: Path | None) -> list[Seed]:
    """Accounts of an older deployment's password file and generated ACL file."""
    if passwd is None and acl is None:
        return []
    if passwd is None or acl is None:
        raise CredentialsFileError("importing needs both --import-passwd and --import-acl")
    try:
        hashes = parse_password_file(passwd.read_text(), source=str(passwd))
        roles = read_acl_roles(acl.read_text(), source=str(acl))
    except OSError as exc:
        raise CredentialsFileError(f"cannot read {exc.filename}: {exc.strerror}") from None
    missing = sorted(hashes.keys() ^ roles.keys())
    if missing:
        raise CredentialsFileError(
            f"accounts in only one of {passwd} and {acl}: {', '.join(missing)}; revoke "
            "them with the older 'fleet-api broker revoke' first, or remove their lines"
        )
    return [
        Seed(validate_account_name(name), roles[name], PasswordHash.from_mosquitto_passwd(h))
        for name, h in sorted(hashes.items())
    ]


def read_acl_roles(text: str, *, source: str = "ACL file") -> dict[str, Role]:
    """The account roles of an ACL file written by the older ``fleet-api broker``."""
    roles: dict[str, Role] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        marker = _MARKER.match(line)
        if marker:
            name = marker.group(2)
            if name in roles:
                raise CredentialsFileError(f"{source} line {number}: {name!r} appears twice")
            roles[name] = Role(marker.group(1))
        elif line.startswith("user ") and line.split()[1:2] != [next(reversed(roles), None)]:
            raise CredentialsFileError(
                f"{source} line {number}: {line!r} was not written by fleet-api broker (no "
                "'# exhibit|service NAME' line before it): remove that block before importing"
            )
    return roles
