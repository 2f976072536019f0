"""Second wave: sweeps (models.SweepRow), runs.sweep_id / trial_number /
teacher_run_id, and run documents (models.RunDocumentRow).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("goal", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("best_run_id", sa.Integer(),
                  sa.ForeignKey("runs.id", ondelete="SET NULL", name="fk_sweeps_best_run"), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.create_index("ix_sweeps_status", "sweeps", ["status"])
    # On SQLite batch mode copies `runs` and drops the original: safe only
    # because db.upgrade_to_head turns foreign keys off while migrating (the
    # drop would otherwise cascade to every run's metrics).
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("trial_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("teacher_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_runs_sweep", "sweeps", ["sweep_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key("fk_runs_teacher", "runs", ["teacher_run_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_runs_sweep_id", ["sweep_id"])
    op.create_table(
        "run_documents",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_documents")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_sweep_id")
        batch.drop_constraint("fk_runs_teacher", type_="foreignkey")
        batch.drop_constraint("fk_runs_sweep", type_="foreignkey")
        batch.drop_column("teacher_run_id")
        batch.drop_column("trial_number")
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweeps_status", table_name="sweeps")
    op.drop_table("sweeps")
