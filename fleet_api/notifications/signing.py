"""HMAC signatures of webhook bodies: ``X-Fleet-Signature: t=<unix time>,v1=<hex>``.

``v1`` is HMAC-SHA256 with the webhook's secret over ``"<t>." + body`` (the exact bytes
sent). The time is part of what is signed, so a receiver that refuses signatures older
than a few minutes cannot be fed a recorded request again; a retry is signed anew. A
receiver checks it like :func:`verify` (compare in constant time, check the age).
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Fleet-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},{SCHEME}={digest.hexdigest()}"


def verify(
    secret: str, body: bytes, header: str, *, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
        given = fields[SCHEME]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, body, timestamp).rsplit("=", 1)[1]
    return hmac.compare_digest(expected, given)
