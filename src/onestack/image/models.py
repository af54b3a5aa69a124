"""Image tables. Only the image service reads or writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from onestack.common.db import Base, utcnow

# Microseconds everywhere: images are sorted and filtered by their timestamps, and MariaDB's
# plain DATETIME would drop the fraction.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ID = String(64)


class Image(Base):
    __tablename__ = "image_image"
    __table_args__ = (
        Index("ix_image_image_owner_created", "owner", "created_at"),
        Index("ix_image_image_created_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    visibility: Mapped[str] = mapped_column(String(20), index=True)
    owner: Mapped[str | None] = mapped_column(ID)
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    disk_format: Mapped[str | None] = mapped_column(String(32))
    container_format: Mapped[str | None] = mapped_column(String(32))
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the store keeps the data (a store-specific key); NULL until data is active.
    location: Mapped[str | None] = mapped_column(Text)
    # Which process is writing data for this image ("host:pid"), while status is saving or
    # importing: a restarted server resets the uploads its dead predecessor left behind.
    upload_owner: Mapped[str | None] = mapped_column(String(255))
    # Bytes staged for the glance-direct import (counted against image_stage_total).
    staged_size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ImageProperty(Base):
    __tablename__ = "image_property"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_image.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ImageTag(Base):
    __tablename__ = "image_tag"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_image.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class ImageMember(Base):
    __tablename__ = "image_member"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_image.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ImageQuota(Base):
    """Per-project limits set by the operator; NULL means the configured default. A row also
    serves as the lock that serializes quota claims of one project on database servers."""

    __tablename__ = "image_quota"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    image_count_total: Mapped[int | None] = mapped_column(BigInteger)
    image_size_total: Mapped[int | None] = mapped_column(BigInteger)
    image_stage_total: Mapped[int | None] = mapped_column(BigInteger)
    image_count_uploading: Mapped[int | None] = mapped_column(BigInteger)


class DeletedImage(Base):
    """Ids of deleted images, so that none is ever reused (OSSN-0075)."""

    __tablename__ = "image_deleted"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str | None] = mapped_column(ID)
    deleted_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ImageTask(Base):
    """An import of an image's data, as Glance's ``api_image_import`` tasks show it."""

    __tablename__ = "image_task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_image.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    owner: Mapped[str | None] = mapped_column(ID)
    user_id: Mapped[str | None] = mapped_column(ID)
    request_id: Mapped[str | None] = mapped_column(String(64))
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)


# --------------------------------------------------------------------------------------------
# Metadata definitions (metadefs): namespaces of property, object and tag definitions that
# describe what metadata other resources (images, volumes, flavors) may carry. Served under
# /v2/metadefs by image/metadefs.py; these tables have nothing to do with image rows.
# --------------------------------------------------------------------------------------------


class MetadefNamespace(Base):
    __tablename__ = "image_metadef_namespace"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Unique across all projects, as in Glance: a namespace name is a global identifier.
    namespace: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class MetadefResourceType(Base):
    __tablename__ = "image_metadef_resource_type"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    # Seeded well-known types are protected; those created by an association are not.
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class MetadefResourceTypeAssociation(Base):
    __tablename__ = "image_metadef_resource_type_assoc"
    namespace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_metadef_namespace.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed: the namespace list filters by resource type (and MariaDB wants an index for
    # the foreign key; declaring it keeps models and migrations identical).
    resource_type: Mapped[str] = mapped_column(
        String(80), ForeignKey("image_metadef_resource_type.name"), primary_key=True, index=True
    )
    prefix: Mapped[str | None] = mapped_column(String(80))
    properties_target: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class MetadefObject(Base):
    __tablename__ = "image_metadef_object"
    __table_args__ = (
        Index("ix_image_metadef_object_ns_name", "namespace_id", "name", unique=True),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_metadef_namespace.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[list[str]] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class MetadefProperty(Base):
    __tablename__ = "image_metadef_property"
    __table_args__ = (
        Index("ix_image_metadef_property_ns_name", "namespace_id", "name", unique=True),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_metadef_namespace.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    # The property's JSON-schema fragment (title, type, enum, ...), without its name.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class MetadefTag(Base):
    __tablename__ = "image_metadef_tag"
    __table_args__ = (Index("ix_image_metadef_tag_ns_name", "namespace_id", "name", unique=True),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("image_metadef_namespace.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
