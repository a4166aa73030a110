"""Tables of the metadata database.

Blobs and manifests are content-addressed and shared by every registry of the server; a
repository sees only what is linked to it (``repo_blobs``, ``repo_manifests``), which is what
lets a copy between repositories or registries of one server move no bytes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

registries = Table(
    "registries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("name_key", String(50), nullable=False, unique=True),
    Column("port", Integer, nullable=False, unique=True),
    Column("resource_group", String(90), nullable=False),
    Column("location", String(64), nullable=False),
    Column("sku", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("registry_id", "name"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", String(40), nullable=False),
)

repo_blobs = Table(
    "repo_blobs",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("digest", String(140), ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", String(40), nullable=False),
)

manifests = Table(
    "manifests",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255)),
    Column("subject", String(140)),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
)

repo_manifests = Table(
    "repo_manifests",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("digest", String(140), ForeignKey("manifests.digest"), primary_key=True),
    Column("subject", String(140)),
    Column("created_at", String(40), nullable=False),
    Index("ix_repo_manifests_subject", "repository_id", "subject"),
)

tags = Table(
    "tags",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(128), primary_key=True),
    Column("digest", String(140), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_tags_digest", "repository_id", "digest"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("started_at", String(40), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("registry", String(50), nullable=False),
    Column("repository", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("digest", String(140)),
    Column("tag", String(128)),
    Column("media_type", String(255)),
    Column("created_at", String(40), nullable=False),
    Column("detail", Text),
)
