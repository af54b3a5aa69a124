"""Images and members as the Image API v2 shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onestack.image.models import Image, ImageMember

SCHEMA_IMAGE = "/v2/schemas/image"
SCHEMA_IMAGES = "/v2/schemas/images"
SCHEMA_MEMBER = "/v2/schemas/member"
SCHEMA_MEMBERS = "/v2/schemas/members"


def isotime(value: datetime | None) -> str | None:
    """Glance's timestamp format: seconds, UTC, with a Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def image_view(
    image: Image, properties: dict[str, str], tags: list[str], store_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **properties,
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "tags": tags,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": SCHEMA_IMAGE,
    }
    if image.location and store_id:
        body["stores"] = store_id
    return body


def member_view(member: ImageMember) -> dict[str, Any]:
    return {
        "image_id": member.image_id,
        "member_id": member.member,
        "status": member.status,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": SCHEMA_MEMBER,
    }
