"""Metadata database: SQLite by default, through SQLAlchemy Core, migrated with Alembic."""
