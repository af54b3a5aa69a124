"""image: the first tables

Revision ID: image_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "image_0001"
down_revision = None
branch_labels = ("image",)
depends_on = None

TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "image_image",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("virtual_size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=32), nullable=True),
        sa.Column("os_hash_algo", sa.String(length=64), nullable=True),
        sa.Column("os_hash_value", sa.String(length=128), nullable=True),
        sa.Column("disk_format", sa.String(length=32), nullable=True),
        sa.Column("container_format", sa.String(length=32), nullable=True),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("os_hidden", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("upload_owner", sa.String(length=255), nullable=True),
        sa.Column("staged_size", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_image_image_name", "image_image", ["name"])
    op.create_index("ix_image_image_status", "image_image", ["status"])
    op.create_index("ix_image_image_visibility", "image_image", ["visibility"])
    op.create_index("ix_image_image_owner_created", "image_image", ["owner", "created_at"])
    op.create_index("ix_image_image_created_id", "image_image", ["created_at", "id"])
    op.create_table(
        "image_property",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image_image.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "name"),
    )
    op.create_table(
        "image_tag",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image_image.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "value"),
    )
    op.create_table(
        "image_member",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image_image.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "member"),
    )
    op.create_index("ix_image_member_member", "image_member", ["member"])
    op.create_table(
        "image_quota",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("image_count_total", sa.BigInteger(), nullable=True),
        sa.Column("image_size_total", sa.BigInteger(), nullable=True),
        sa.Column("image_stage_total", sa.BigInteger(), nullable=True),
        sa.Column("image_count_uploading", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("image_quota")
    op.drop_index("ix_image_member_member", table_name="image_member")
    op.drop_table("image_member")
    op.drop_table("image_tag")
    op.drop_table("image_property")
    for name in ("created_id", "owner_created", "visibility", "status", "name"):
        op.drop_index(f"ix_image_image_{name}", table_name="image_image")
    op.drop_table("image_image")
