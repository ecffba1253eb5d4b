"""What the agent must not lose, in one SQLite file: ``store`` (the outbox), ``schema``, the
sealed ``sessions``, ``state`` (assignment, commands run), ``retention`` (confirmed records
kept for a resend), ``compaction`` and ``rebasing``.
"""
