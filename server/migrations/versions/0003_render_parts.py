"""Renders split across workers: the job row counts its parts, each part a row of its own.

`render_jobs.parts` is 0 for every existing job (rendered whole, as before). `render_parts` holds a
split job's frame ranges with their own lease, fencing token, attempts and output file.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("render_jobs", sa.Column("parts", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "render_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("stop_frame", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("frames_done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
        sa.Column("fencing_token", sa.Integer(), nullable=False),
        sa.Column("output_key", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "idx", name="uq_render_parts_job_idx"),
    )
    op.create_index("ix_render_parts_job_id", "render_parts", ["job_id"], unique=False)
    op.create_index("ix_render_parts_status", "render_parts", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_render_parts_status", table_name="render_parts")
    op.drop_index("ix_render_parts_job_id", table_name="render_parts")
    op.drop_table("render_parts")
    with op.batch_alter_table("render_jobs") as batch:
        batch.drop_column("parts")
