"""Render jobs count the runs whose worker vanished apart from the runs that failed on their own.

Before, each server death during a render used one of the job's `max_attempts` (3): three crashes
of the machine and a user's export was `failed`. `lost_leases` counts lapsed leases, bounded by
`max_lost_leases`. Existing rows start at 0 lost of 10.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("render_jobs", sa.Column("lost_leases", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "render_jobs", sa.Column("max_lost_leases", sa.Integer(), nullable=False, server_default="10")
    )


def downgrade() -> None:
    with op.batch_alter_table("render_jobs") as batch:
        batch.drop_column("max_lost_leases")
        batch.drop_column("lost_leases")
