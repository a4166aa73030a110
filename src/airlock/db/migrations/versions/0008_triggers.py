"""triggers: settings, tracked base images, timers, firings, cursors, external images

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_triggers",
        sa.Column("task", sa.String(length=36), nullable=False),
        sa.Column("base_image_enabled", sa.Boolean(), nullable=False),
        sa.Column("base_image_type", sa.String(length=16), nullable=False),
        sa.Column("base_image_name", sa.String(length=64), nullable=False),
        sa.Column("commit_enabled", sa.Boolean(), nullable=False),
        sa.Column("sealed_webhook_secret", sa.LargeBinary(), nullable=True),
        sa.Column("last_commit", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task"),
    )
    op.create_table(
        "task_base_images",
        sa.Column("task", sa.String(length=36), nullable=False),
        sa.Column("image", sa.String(length=512), nullable=False),
        sa.Column("registry", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task", "image", "registry", "repository", "tag"),
    )
    op.create_index(
        "ix_task_base_images_ref", "task_base_images", ["registry", "repository", "tag"]
    )
    op.create_table(
        "task_timers",
        sa.Column("task", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_at", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task", "name"),
    )
    op.create_table(
        "trigger_firings",
        sa.Column("task", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("run", sa.String(length=36), nullable=True),
        sa.Column("fired_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["task"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task", "kind", "key"),
    )
    op.create_table(
        "trigger_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "external_images",
        sa.Column("registry", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=True),
        sa.Column("checked_at", sa.String(length=40), nullable=True),
        sa.Column("next_check_at", sa.String(length=40), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("registry", "repository", "tag"),
    )


def downgrade() -> None:
    op.drop_table("external_images")
    op.drop_table("trigger_cursors")
    op.drop_table("trigger_firings")
    op.drop_table("task_timers")
    op.drop_index("ix_task_base_images_ref", table_name="task_base_images")
    op.drop_table("task_base_images")
    op.drop_table("task_triggers")
