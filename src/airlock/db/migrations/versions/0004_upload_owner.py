"""upload owner: who opened an upload, for the caps on open uploads

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Uploads opened before this revision have no owner: they count towards no cap and are
    # purged when idle like any other.
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=255), nullable=True))
        batch.create_index("ix_uploads_repository_owner", ["repository_id", "owner"])
        batch.create_index("ix_uploads_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_index("ix_uploads_owner")
        batch.drop_index("ix_uploads_repository_owner")
        batch.drop_column("owner")
