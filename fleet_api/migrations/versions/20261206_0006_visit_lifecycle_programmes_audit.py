"""Visit lifecycle, programmes, archived schools, retired exhibits, and the audit trail.

- ``visits.status`` (what staff decided: planned, held, cancelled), ``status_reason`` and
  ``teachers``. A visit checked in before this revision was held: it becomes ``held``;
  every other one stays ``planned`` (and counts as held once it has ended).
- ``programmes`` and ``visit_programmes``: each distinct free-text ``visits.programme``
  becomes a programme of that name (grades and STEM area not stated), linked to its
  visits; then the free-text column goes.
- ``schools.archived_at``, ``exhibits.retired_at``.
- ``audit_log``, append-only: a trigger refuses UPDATE and DELETE on both backends.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = "audit_log is append-only: its rows cannot be changed or deleted"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""
    for verb in ("UPDATE", "DELETE")
]
_PG_TRIGGER = [
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    """Add the lifecycle columns and tables; move free-text programmes into programmes."""
    op.add_column(
        "visits",
        sa.Column("status", sa.String(16), server_default=sa.text("'planned'"), nullable=False),
    )
    op.add_column("visits", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("visits", sa.Column("teachers", sa.Integer(), nullable=True))
    op.execute("UPDATE visits SET status = 'held' WHERE checked_in_at IS NOT NULL")
    op.add_column("schools", sa.Column("archived_at", UTC_TIME, nullable=True))
    op.add_column("exhibits", sa.Column("retired_at", UTC_TIME, nullable=True))
    op.create_table(
        "programmes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("grade_min", sa.Integer(), nullable=True),
        sa.Column("grade_max", sa.Integer(), nullable=True),
        sa.Column("stem_area", sa.String(16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_programmes"),
        sa.UniqueConstraint("name", name="uq_programmes_name"),
    )
    op.create_table(
        "visit_programmes",
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("programme_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name="fk_visit_programmes_visit_id_visits",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.id"], name="fk_visit_programmes_programme_id_programmes"
        ),
        sa.PrimaryKeyConstraint("visit_id", "programme_id", name="pk_visit_programmes"),
    )
    op.create_index(
        "ix_visit_programmes_programme_id", "visit_programmes", ["programme_id"], unique=False
    )
    _move_programmes()
    op.drop_column("visits", "programme")
    _audit_log()


def _move_programmes() -> None:
    bind = op.get_bind()
    named = bind.execute(
        sa.text("SELECT id, programme FROM visits WHERE programme IS NOT NULL ORDER BY id")
    ).all()
    ids: dict[str, int] = {}
    for visit_id, text in named:
        name = " ".join(str(text).split())
        if not name:
            continue
        if name not in ids:
            bind.execute(sa.text("INSERT INTO programmes (name) VALUES (:name)"), {"name": name})
            ids[name] = bind.execute(
                sa.text("SELECT id FROM programmes WHERE name = :name"), {"name": name}
            ).scalar_one()
        bind.execute(
            sa.text("INSERT INTO visit_programmes (visit_id, programme_id) VALUES (:v, :p)"),
            {"v": visit_id, "p": ids[name]},
        )


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor_token_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=True),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    for statement in (
        _PG_TRIGGER if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    ):
        op.execute(statement)


def downgrade() -> None:
    """Drop the new tables and columns; programmes go back to free text (the first name)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")
    op.add_column("visits", sa.Column("programme", sa.String(200), nullable=True))
    op.execute(
        """UPDATE visits SET programme = (
            SELECT MIN(p.name) FROM visit_programmes vp JOIN programmes p ON p.id = vp.programme_id
            WHERE vp.visit_id = visits.id)"""
    )
    op.drop_index("ix_visit_programmes_programme_id", table_name="visit_programmes")
    op.drop_table("visit_programmes")
    op.drop_table("programmes")
    op.drop_column("exhibits", "retired_at")
    op.drop_column("schools", "archived_at")
    op.drop_column("visits", "teachers")
    op.drop_column("visits", "status_reason")
    op.drop_column("visits", "status")
