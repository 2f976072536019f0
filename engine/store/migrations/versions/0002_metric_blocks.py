"""metric_blocks: per-32-step extremes of each curve, for fast reduced reads
(models.MetricBlockRow). Filled from existing metrics on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("block", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("vmin", sa.Float(), nullable=True),
        sa.Column("vmax", sa.Float(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "sqlite":  # only SQLite keeps and reads blocks
        op.execute("INSERT INTO metric_blocks (run_id, key, block, n, vmin, vmax, last_step) "
                   "SELECT run_id, key, step >> 5, count(*), min(value), max(value), max(step) "
                   "FROM metrics GROUP BY run_id, key, step >> 5")


def downgrade() -> None:
    op.drop_table("metric_blocks")
