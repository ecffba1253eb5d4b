"""The outbox file's tables: one SQLite file holds everything the agent must not lose.

=================  ============================================  ==========================
table              what                                          written by
=================  ============================================  ==========================
``open_buckets``   running counts per (input, boot, bucket,      ``device.outbox.store``
                   visit)
``records``        sealed records (counts and sessions, one seq  ``device.outbox.store``,
                   stream) as the exact JSON that is sent, until ``compaction``, ``rebasing``,
                   the fleet confirms it stored them             ``retention``
``retained``       records the fleet confirmed, with when (the   ``device.outbox.retention``
                   fleet's clock), kept for a resend
``open_session``   the engagement session in progress            ``device.outbox.sessions``
``commands``       command ids already run                       ``device.outbox.state``
``meta``           ``next_seq``, ``published_upto``, the owning  ``device.outbox.store``,
                   exhibit id, assignment, self-test results     ``device.outbox.state``
=================  ============================================  ==========================

Version 1 (the first agent) had ``meta``, ``open_buckets`` and ``records``; opening it
creates the rest (``CREATE TABLE IF NOT EXISTS``) and freezes what it holds. Version 2 had
no ``retained``: its ``records`` are all unconfirmed, so they are sent again and the fleet
confirms them (it stores each seq once).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS open_buckets (
    input TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    visit_id INTEGER NOT NULL DEFAULT 0,
    mono_start REAL NOT NULL,
    wall_start TEXT NOT NULL,
    seconds REAL NOT NULL,
    count INTEGER NOT NULL,
    clock_synced INTEGER NOT NULL,
    PRIMARY KEY (input, boot_id, bucket, visit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retained (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    confirmed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS retained_confirmed_at ON retained (confirmed_at);
CREATE TABLE IF NOT EXISTS open_session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    boot_id TEXT NOT NULL,
    first_mono REAL NOT NULL,
    last_mono REAL NOT NULL,
    first_wall TEXT NOT NULL,
    clock_synced INTEGER NOT NULL,
    visit_id INTEGER NOT NULL DEFAULT 0,
    interactions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
INSERT OR IGNORE INTO meta (key, value) VALUES ('published_upto', 0);
"""

SCHEMA_STATEMENTS = [part.strip() for part in _SCHEMA.split(";") if part.strip()]
"""The DDL, one statement each; every one is idempotent."""
