"""API tokens and roles: what a bearer token looks like, how it is stored, what it may do.

Roles, ordered ``viewer < staff, technician < admin``:

- ``viewer`` reads everything (every role can read);
- ``staff`` also writes schools and visits;
- ``technician`` also writes exhibits and commands, and reads the quarantine;
- ``admin`` may do everything, including managing tokens.

``staff`` and ``technician`` are different capabilities, neither above the other.

A token is ``fleet_`` followed by 43 URL-safe characters (256 random bits from
:mod:`secrets`); the prefix makes a leaked token easy to recognise (in a log, a
repository, a secret scanner). Only its SHA-256 hex digest is stored. A request's token
is hashed and looked up by that digest through the unique index: no comparison ever
runs on the secret itself, and since a caller cannot choose digests, how long the
index lookup takes tells it nothing about any stored token. A salted slow hash buys
nothing here: the tokens are random, not passwords that could be guessed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "fleet_"  # noqa: S105 - a marker for recognising tokens, not a secret
TOKEN_BYTES = 32
TOKEN_MAX_CHARS = 256
"""Longer bearer values are refused without a database lookup."""


class Role(StrEnum):
    """What a token may do; see the module docstring for the order."""

    VIEWER = "viewer"
    STAFF = "staff"
    TECHNICIAN = "technician"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether a token of this role may do what needs ``needed``."""
        return self is needed or self is Role.ADMIN or needed is Role.VIEWER


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: the id, name and role of the token it carried."""

    token_id: int
    name: str
    role: Role

    def may(self, *roles: Role) -> bool:
        """Whether this caller's role allows any of ``roles``."""
        return any(self.role.allows(role) for role in roles)


def new_token() -> str:
    """A new random token: ``fleet_`` + 256 bits, URL-safe; shown once, never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in ``api_tokens.token_hash``."""
    return hashlib.sha256(token.encode()).hexdigest()


def plausible(token: str) -> bool:
    """Whether ``token`` is worth a lookup (not empty, not absurdly long, printable ASCII)."""
    return 0 < len(token) <= TOKEN_MAX_CHARS and token.isascii() and token.isprintable()
