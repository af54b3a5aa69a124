"""image: metadata definitions (metadefs)

Revision ID: image_0004
Revises: image_0003
Create Date: 2026-11-25

Only new tables: an older server keeps working beside this schema (expand-only). The
well-known resource types are seeded so that a fresh cloud lists some, as Glance's does once
its definitions are loaded.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "image_0004"
down_revision = "image_0003"
branch_labels = None
depends_on = None

TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

# The resource types other OpenStack services attach metadata to (Heat's type names).
RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
    "OS::Trove::Instance",
)


def _children(name: str, *columns: sa.Column[Any]) -> None:
    """A table of definitions inside a namespace: id, namespace_id, name, ..., timestamps."""
    op.create_table(
        name,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        *columns,
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["image_metadef_namespace.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{name}_ns_name", name, ["namespace_id", "name"], unique=True)


def upgrade() -> None:
    op.create_table(
        "image_metadef_namespace",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("namespace", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_image_metadef_namespace_namespace",
        "image_metadef_namespace",
        ["namespace"],
        unique=True,
    )
    op.create_index("ix_image_metadef_namespace_owner", "image_metadef_namespace", ["owner"])

    types = op.create_table(
        "image_metadef_resource_type",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(
        types,
        [
            {"name": name, "protected": True, "created_at": now, "updated_at": now}
            for name in RESOURCE_TYPES
        ],
    )

    op.create_table(
        "image_metadef_resource_type_assoc",
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        sa.Column("resource_type", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=80), nullable=True),
        sa.Column("properties_target", sa.String(length=80), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["image_metadef_namespace.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["resource_type"], ["image_metadef_resource_type.name"]),
        sa.PrimaryKeyConstraint("namespace_id", "resource_type"),
    )
    op.create_index(
        "ix_image_metadef_resource_type_assoc_resource_type",
        "image_metadef_resource_type_assoc",
        ["resource_type"],
    )

    _children(
        "image_metadef_object",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
    )
    _children(
        "image_metadef_property",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
    )
    _children("image_metadef_tag", sa.Column("name", sa.String(length=255), nullable=False))


def downgrade() -> None:
    # Dropping the tables drops their indexes (MariaDB refuses to drop an index a foreign key
    # uses); children first, for their foreign keys.
    for name in (
        "image_metadef_tag",
        "image_metadef_property",
        "image_metadef_object",
        "image_metadef_resource_type_assoc",
        "image_metadef_resource_type",
        "image_metadef_namespace",
    ):
        op.drop_table(name)
