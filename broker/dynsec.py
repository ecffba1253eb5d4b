"""Mosquitto's dynamic-security document: the JSON file its plugin loads at start.

Facts from Mosquitto 2.0.11's ``plugins/dynamic-security`` that shape this module:

- The plugin reads the file once, when the broker starts; SIGHUP does not re-read it.
  Every change made over ``$CONTROL/dynamic-security/v1`` is applied live and written
  back by the broker (``<file>.new``, then a rename in the same folder, so the folder must
  be the broker user's). So this module writes the file only to *create* it
  (``fleet-api broker init``); afterwards ``broker.accounts`` changes accounts through
  ``$CONTROL`` and only reads the file (to check a known password without changing it).
- A client's password is PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash, stored as
  base64 ``password`` and ``salt`` plus ``iterations``: the same hash as a ``$7$`` line of
  a Mosquitto password file, so accounts of the older password file move over unchanged.
- Roles are loaded before clients; a client naming a missing role gets no rights.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.acl import (
    ADMIN_ACLS,
    ADMIN_ROLE,
    ADMIN_USERNAME,
    EXHIBIT_ROLE_PREFIX,
    SERVICE_ROLE,
    Acl,
    AclType,
    Role,
    exhibit_acls,
    role_name,
    service_acls,
    share_group_of,
)
from broker.errors import CredentialsFileError
from broker.passwords import HASH_BYTES, ITERATIONS, SALT_BYTES

DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": False,
}
"""Whatever no role allows is refused: the plugin's own default lets every client read."""


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A client's password as the plugin stores it."""

    hash: bytes = field(repr=False)
    salt: bytes = field(repr=False)
    iterations: int = ITERATIONS

    @classmethod
    def of(cls, password: str, *, salt: bytes | None = None) -> PasswordHash:
        """Hash ``password`` with a fresh salt, as the broker does for ``createClient``."""
        salt = os.urandom(SALT_BYTES) if salt is None else salt
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, HASH_BYTES)
        return cls(digest, salt, ITERATIONS)

    @classmethod
    def from_mosquitto_passwd(cls, line_hash: str) -> PasswordHash:
        """The same hash from a password file's ``$7$<iterations>$<salt>$<hash>``."""
        try:
            iterations, salt, digest = line_hash.removeprefix("$7$").split("$")
            found = cls(_b64(digest), _b64(salt), int(iterations))
        except (ValueError, binascii.Error):
            found = None
        if (
            not line_hash.startswith("$7$")
            or found is None
            or len(found.salt) != SALT_BYTES
            or len(found.hash) != HASH_BYTES
        ):
            raise CredentialsFileError("not a Mosquitto 2.0 '$7$' PBKDF2-SHA512 password hash")
        return found

    def matches(self, password: str) -> bool:
        """True if ``password`` is this hash's password (constant-time comparison)."""
        actual = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), self.salt, self.iterations, len(self.hash)
        )
        return hmac.compare_digest(actual, self.hash)

    def as_json(self) -> dict[str, object]:
        """The ``password``/``salt``/``iterations`` fields of a client."""
        return {
            "password": base64.b64encode(self.hash).decode(),
            "salt": base64.b64encode(self.salt).decode(),
            "iterations": self.iterations,
        }


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True, slots=True)
class Seed:
    """An account to put in a new document: a name, its role and its password hash."""

    name: str
    role: Role
    password: PasswordHash


def role_json(name: str, acls: Iterable[Acl]) -> dict[str, object]:
    """A role as the document and the ``createRole``/``modifyRole`` commands spell it."""
    return {"rolename": name, "acls": [acl.as_json() for acl in acls]}


def client_json(username: str, rolename: str, password: PasswordHash) -> dict[str, object]:
    """A client with one role and its password hash, as the document spells it."""
    return {"username": username, "roles": [{"rolename": rolename}], **password.as_json()}


def new_document(
    *, admin_password: str, share_group: str, seeds: Iterable[Seed] = ()
) -> dict[str, Any]:
    """A complete document: deny by default, the admin, the service role, these accounts."""
    clients = [client_json(ADMIN_USERNAME, ADMIN_ROLE, PasswordHash.of(admin_password))]
    roles = [role_json(ADMIN_ROLE, ADMIN_ACLS), role_json(SERVICE_ROLE, service_acls(share_group))]
    for seed in sorted(seeds, key=lambda s: s.name):
        if seed.role is Role.EXHIBIT:
            roles.append(role_json(role_name(seed.name, seed.role), exhibit_acls(seed.name)))
        clients.append(client_json(seed.name, role_name(seed.name, seed.role), seed.password))
    return {"defaultACLAccess": DEFAULT_ACCESS, "clients": clients, "groups": [], "roles": roles}


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """An account as the document holds it."""

    name: str
    role: Role | None
    """None: a client that holds none of our roles (made by hand, e.g. with mosquitto_ctrl)."""
    password: PasswordHash | None


@dataclass(frozen=True, slots=True)
class Document:
    """What a dynamic-security file says: accounts, role ACLs and the share group."""

    accounts: Mapping[str, StoredAccount]
    roles: Mapping[str, tuple[Acl, ...]]
    default_access: Mapping[str, bool]

    @property
    def share_group(self) -> str | None:
        """The share group the service role admits."""
        return share_group_of(self.roles.get(SERVICE_ROLE, ()))

    @classmethod
    def read(cls, path: Path) -> Document:
        """Parse the file the broker keeps; CredentialsFileError names what is wrong."""
        try:
            data = json.loads(path.read_text())
            return cls.parse(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CredentialsFileError(
                f"{path} is not a Mosquitto dynamic-security file ({exc}); "
                "create it with 'fleet-api broker init'"
            ) from None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Document:
        """The document from its JSON value."""
        roles = {
            str(role["rolename"]): tuple(
                sorted(
                    Acl(AclType(acl["acltype"]), str(acl["topic"]))
                    for acl in role.get("acls", [])
                    if acl.get("allow", False)
                )
            )
            for role in data.get("roles", [])
        }
        accounts = {}
        for client in data.get("clients", []):
            name = str(client["username"])
            if name == ADMIN_USERNAME:
                continue
            rolenames = {str(r["rolename"]) for r in client.get("roles", [])}
            accounts[name] = StoredAccount(name, role_from_names(name, rolenames), _hash(client))
        return cls(accounts, roles, dict(data.get("defaultACLAccess", {})))


def role_from_names(name: str, rolenames: set[str]) -> Role | None:
    """Which of our roles a client with these role names has, if exactly one."""
    if rolenames == {f"{EXHIBIT_ROLE_PREFIX}{name}"}:
        return Role.EXHIBIT
    if rolenames == {SERVICE_ROLE}:
        return Role.SERVICE
    return None


def _hash(client: Mapping[str, Any]) -> PasswordHash | None:
    if not all(key in client for key in ("password", "salt", "iterations")):
        return None
    return PasswordHash(_b64(client["password"]), _b64(client["salt"]), int(client["iterations"]))
