"""Broker accounts: add, rotate and revoke exhibits and services in the password and ACL files.

Both files are rewritten whole, atomically (temporary file, fsync, rename), under an
exclusive ``flock`` on ``<password file>.lock`` so two admins cannot interleave. The two
renames are ordered so every state in between is safe: a new account gets its ACL
before its password (it can never connect with more rights than intended) and a revoked
one loses its password before its ACL (it cannot connect the moment the first file lands).

Mosquitto reads the files at start and on SIGHUP: ``reload_broker`` sends it. Passwords
are returned to the caller once and never logged or stored in clear.
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from broker.acl import Role, parse_acl_file, render_acl_file, validate_account_name
from broker.errors import AccountExists, ReloadError, UnknownAccount
from broker.passwords import (
    generate_password,
    hash_password,
    parse_password_file,
    render_password_file,
)

NEW_FILE_MODE = 0o640
"""Owner writes, Mosquitto's group reads: the broker drops root for user ``mosquitto``
before it reads these files, so ``root:mosquitto 0640`` is what a deployment wants."""


@dataclass(frozen=True, slots=True)
class Account:
    """One broker account as the files describe it; ``role`` None means it has no ACL block."""

    name: str
    role: Role | None
    has_password: bool


@dataclass(frozen=True, slots=True)
class Issued:
    """A freshly issued credential: shown once to the operator, never stored in clear."""

    name: str
    role: Role
    password: str = field(repr=False)


class AccountStore:
    """The password file and ACL file of one Mosquitto, edited together."""

    def __init__(self, passwd_file: Path, acl_file: Path) -> None:
        self.passwd_file = passwd_file
        self.acl_file = acl_file
        self.lock_file = passwd_file.with_name(passwd_file.name + ".lock")

    def add(self, name: str, role: Role) -> Issued:
        """Create an account with a new random password; raise AccountExists if taken."""
        validate_account_name(name)
        with self._locked():
            hashes, roles = self._read()
            if name in hashes or name in roles:
                raise AccountExists(
                    f"broker account {name!r} already exists: use 'rotate {name}' for a new "
                    f"password or 'revoke {name}' first"
                )
            password = generate_password()
            roles[name] = role
            hashes[name] = hash_password(password)
            self._write_acl(roles)
            self._write_passwd(hashes)
        return Issued(name, role, password)

    def rotate(self, name: str) -> Issued:
        """Replace an account's password; the old one stops working at the next reload."""
        with self._locked():
            hashes, roles = self._read()
            role = roles.get(name)
            if role is None or name not in hashes:
                raise UnknownAccount(self._unknown(name, hashes, roles))
            password = generate_password()
            hashes[name] = hash_password(password)
            self._write_passwd(hashes)
        return Issued(name, role, password)

    def revoke(self, name: str) -> None:
        """Remove an account from both files (also a half-present one left by a hand edit)."""
        with self._locked():
            hashes, roles = self._read()
            if name not in hashes and name not in roles:
                raise UnknownAccount(self._unknown(name, hashes, roles))
            if hashes.pop(name, None) is not None:
                self._write_passwd(hashes)
            if roles.pop(name, None) is not None:
                self._write_acl(roles)

    def accounts(self) -> list[Account]:
        """Every account found in either file, sorted by name."""
        with self._locked():
            hashes, roles = self._read()
        names = sorted(hashes.keys() | roles.keys())
        return [Account(name, roles.get(name), name in hashes) for name in names]

    def _unknown(self, name: str, hashes: dict[str, str], roles: dict[str, Role]) -> str:
        if name in hashes or name in roles:
            return (
                f"broker account {name!r} is only half present (password without ACL or "
                f"the reverse): 'revoke {name}' then add it again"
            )
        return f"no broker account {name!r} in {self.passwd_file} / {self.acl_file}"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> tuple[dict[str, str], dict[str, Role]]:
        passwd = self.passwd_file.read_text() if self.passwd_file.exists() else ""
        acl = self.acl_file.read_text() if self.acl_file.exists() else ""
        return (
            parse_password_file(passwd, source=str(self.passwd_file)),
            parse_acl_file(acl, source=str(self.acl_file)),
        )

    def _write_passwd(self, hashes: dict[str, str]) -> None:
        atomic_write(self.passwd_file, render_password_file(hashes))

    def _write_acl(self, roles: dict[str, Role]) -> None:
        atomic_write(self.acl_file, render_acl_file(roles))


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
            # mkstemp made it 0600: give it the old file's mode (Mosquitto's group must
            # keep read access) or the documented default for a new file.
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
    """Send SIGHUP to the Mosquitto whose pid is in ``pid_file``; return that pid."""
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
