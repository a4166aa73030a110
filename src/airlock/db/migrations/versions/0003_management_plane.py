"""management plane: principal credentials, sessions, audit log, token binding

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:20:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _fill(table: str, key: str, columns: tuple[str, ...]) -> None:
    """Give every existing row its own random value in each of ``columns``."""
    conn = op.get_bind()
    for (row_id,) in conn.execute(sa.text(f"SELECT {key} FROM {table}")).all():
        values = {c: str(uuid.uuid4()) for c in columns}
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        conn.execute(
            sa.text(f"UPDATE {table} SET {assignments} WHERE {key} = :key"),
            {**values, "key": row_id},
        )


def upgrade() -> None:
    with op.batch_alter_table("registries") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("admin_stamp", sa.String(length=36), nullable=True))
    _fill("registries", "id", ("uid", "admin_stamp"))
    with op.batch_alter_table("registries") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch.alter_column("admin_stamp", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_registries_uid", ["uid"])

    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("stamp", sa.String(length=36), nullable=True))
    _fill("tokens", "id", ("uid", "stamp"))
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch.alter_column("stamp", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_tokens_uid", ["uid"])

    with op.batch_alter_table("principals") as batch:
        batch.add_column(
            sa.Column("stamp", sa.String(length=36), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("display_name", sa.String(length=128), server_default="", nullable=False)
        )

    op.create_table(
        "principal_credentials",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.principal_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_principal_credentials_principal", "principal_credentials", ["principal_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.String(length=40), nullable=True),
        sa.Column("revoked_at", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.principal_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_sessions_principal", "sessions", ["principal_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=True),
        sa.Column("principal_name", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=160), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_principal", "audit_log", ["principal_id"])
    op.create_table(
        "auth_epochs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO auth_epochs (name, value) VALUES ('identities', 0)")


def downgrade() -> None:
    op.drop_table("auth_epochs")
    op.drop_index("ix_audit_log_principal", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_sessions_principal", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_principal_credentials_principal", table_name="principal_credentials")
    op.drop_table("principal_credentials")
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("display_name")
        batch.drop_column("stamp")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_constraint("uq_tokens_uid", type_="unique")
        batch.drop_column("stamp")
        batch.drop_column("uid")
    with op.batch_alter_table("registries") as batch:
        batch.drop_constraint("uq_registries_uid", type_="unique")
        batch.drop_column("admin_stamp")
        batch.drop_column("uid")
