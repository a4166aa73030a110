"""run logs, and the registry credentials of tasks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_logs",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run", sa.String(length=36), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_run_logs_run_seq", "run_logs", ["run", "seq"])
    op.create_table(
        "task_credentials",
        sa.Column("task", sa.String(length=36), nullable=False),
        sa.Column("login_server", sa.String(length=255), nullable=False),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("password_ref", sa.Text(), nullable=True),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=True),
        sa.Column("use_identity", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task", "login_server"),
    )


def downgrade() -> None:
    op.drop_table("task_credentials")
    op.drop_index("ix_run_logs_run_seq", table_name="run_logs")
    op.drop_table("run_logs")
