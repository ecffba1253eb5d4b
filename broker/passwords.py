"""Mosquitto password files, written in Python so no ``mosquitto_passwd`` binary is needed.

A line is ``username:$7$<iterations>$<base64 salt>$<base64 hash>``: PBKDF2-HMAC-SHA512
over the UTF-8 password with a 12-byte random salt and a 64-byte result, exactly what
``mosquitto_passwd`` of Mosquitto 2.0 writes and what the broker checks on CONNECT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping

from broker.errors import CredentialsFileError

ITERATIONS = 101
"""Mosquitto 2.0's own default. Our passwords are 192-bit random tokens, so key stretching
adds no security; the broker hashes on every CONNECT and again for every connected client
on each reload, so a large count would only slow reconnect storms and reloads."""
SALT_BYTES = 12
HASH_BYTES = 64
_PREFIX = "$7$"


def generate_password() -> str:
    """A fresh random password: 32 URL-safe characters, 192 bits of entropy."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash of ``password`` as Mosquitto 2.0 stores it."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    encoded_salt = base64.b64encode(salt).decode()
    return f"{_PREFIX}{iterations}${encoded_salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash (constant-time comparison)."""
    if not hashed.startswith(_PREFIX):
        return False
    try:
        iterations_text, salt_b64, digest_b64 = hashed.removeprefix(_PREFIX).split("$")
        iterations = int(iterations_text)
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if iterations < 1 or not expected:
        return False
    actual = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(actual, expected)


def parse_password_file(text: str, *, source: str = "password file") -> dict[str, str]:
    """Map username -> hash from a Mosquitto password file; blank lines are skipped."""
    hashes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        username, sep, hashed = line.partition(":")
        if not sep or not username or not hashed.startswith(_PREFIX):
            raise CredentialsFileError(
                f"{source} line {number} is not 'username:$7$...': regenerate it with "
                "'fleet-api broker rotate USERNAME' or remove the line"
            )
        if username in hashes:
            raise CredentialsFileError(f"{source} line {number}: user {username!r} appears twice")
        hashes[username] = hashed
    return hashes


def render_password_file(hashes: Mapping[str, str]) -> str:
    """A Mosquitto password file, one ``username:hash`` line per user, sorted by name."""
    return "".join(f"{username}:{hashes[username]}\n" for username in sorted(hashes))
