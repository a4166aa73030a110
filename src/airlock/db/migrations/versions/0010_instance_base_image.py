"""container instances: the base image their image was built on

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("container_instances") as batch:
        batch.add_column(sa.Column("base_image", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("base_digest", sa.String(length=140), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("container_instances") as batch:
        batch.drop_column("base_digest")
        batch.drop_column("base_image")
