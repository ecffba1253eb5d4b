"""The agent's plain values and its clock: errors, the injected clock, the worker's events.

No I/O here."""
