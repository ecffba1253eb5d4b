"""The contract's numbers and patterns, in the standard library: one source for all.

``broker/messages.py`` builds its pydantic fields from these; the agent
(``device/wire/codec.py``, which must not import pydantic) and the fleet's fast reader
(``fleet_api/record_rows.py``) check the same bounds with them.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest payload we publish or accept; the broker's message size limit matches it."""
MAX_RECORDS_PER_BATCH = 1000
SEQ_MAX = 2**63 - 1
"""Largest seq and visit id: a signed 64-bit integer."""
INPUT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
BOOT_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
BOOT_ID_MAX_LENGTH = 64
MAX_SPAN_S = 86_400
"""Longest count bucket (``seconds``) and session (``dwell_s``): a day."""
MAX_AMOUNT = 1_000_000
"""Most interactions in one count record (``count``) or session (``interactions``)."""
MAX_CUSTODY_RANGES = 100
"""Most stored runs above ``stored_below`` one custody acknowledgement lists."""
REFUSED = (
    "the agent's own subscriptions the broker refused at its last connection (topic filter: "
    "the broker's reason, e.g. 'Not authorized'): it misses what comes on them; {} when all "
    "were granted, absent when not known yet (at most 16)"
)
