"""access control, locks, key vault, identities, groups, role assignments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:30:52.634975
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
        "principals",
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("resource_group", sa.String(length=90), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("principal_id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_table(
        "resource_groups",
        sa.Column("name", sa.String(length=90), nullable=False),
        sa.Column("name_key", sa.String(length=90), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assignee", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vaults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=24), nullable=False),
        sa.Column("name_key", sa.String(length=24), nullable=False),
        sa.Column("resource_group", sa.String(length=90), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "registry_admin_passwords",
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["registry_id"], ["registries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("registry_id", "name"),
    )
    op.create_table(
        "repository_attributes",
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=140), nullable=False),
        sa.Column("write_enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("delete_enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("read_enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("list_enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["registry_id"], ["registries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("registry_id", "repository", "reference"),
    )
    op.create_table(
        "scope_maps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("description", sa.String(length=256), server_default="", nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("system", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["registry_id"], ["registries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registry_id", "name"),
    )
    op.create_table(
        "vault_policies",
        sa.Column("vault_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("secret_permissions", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["vault_id"], ["vaults.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vault_id", "object_id"),
    )
    op.create_table(
        "vault_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vault_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=127), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["vault_id"], ["vaults.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vault_id", "name", "version"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("scope_map_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["registry_id"], ["registries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["scope_map_id"],
            ["scope_maps.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registry_id", "name"),
    )
    op.create_table(
        "token_passwords",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=255), nullable=False),
        sa.Column("expiry", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", "name"),
    )
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymous_pull_enabled", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("admin_user_enabled", sa.Boolean(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.drop_column("admin_user_enabled")
        batch_op.drop_column("anonymous_pull_enabled")

    op.drop_table("token_passwords")
    op.drop_table("tokens")
    op.drop_table("vault_secrets")
    op.drop_table("vault_policies")
    op.drop_table("scope_maps")
    op.drop_table("repository_attributes")
    op.drop_table("registry_admin_passwords")
    op.drop_table("vaults")
    op.drop_table("role_assignments")
    op.drop_table("resource_groups")
    op.drop_table("principals")
