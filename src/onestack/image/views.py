"""Images and members as the Image API v2 shows them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from onestack.image.models import Image, ImageMember

SCHEMA_IMAGE = "/v2/schemas/image"
SCHEMA_IMAGES = "/v2/schemas/images"
SCHEMA_MEMBER = "/v2/schemas/member"
SCHEMA_MEMBERS = "/v2/schemas/members"


def isotime(value: datetime | None) -> str | None:
    """Glance's timestamp format: seconds, UTC, with a Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def image_view(
    image: Image | Row[Any], properties: dict[str, str], tags: list[str], store_id: str | None
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


class RenderedImages:
    """Image documents already serialized, keyed by id and ``updated_at``.

    Every change of an image (attributes, properties, tags, status, data) sets a new
    ``updated_at`` in the database, so a document rendered for the ``updated_at`` a query
    just returned is the current one, whichever process made the change. A list therefore
    reads only ids and timestamps and serializes only images it has not seen in that
    version. Bounded (least recently used out), so memory stays flat.
    """

    def __init__(self, capacity: int = 10000) -> None:
        self.capacity = capacity
        self._docs: OrderedDict[str, tuple[datetime, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[tuple[str, datetime]]) -> list[bytes | None]:
        found: list[bytes | None] = []
        with self._lock:
            docs = self._docs
            for image_id, updated_at in keys:
                entry = docs.get(image_id)
                if entry is not None and entry[0] == updated_at:
                    docs.move_to_end(image_id)
                    found.append(entry[1])
                else:
                    found.append(None)
        return found

    def put(self, image_id: str, updated_at: datetime, document: bytes) -> None:
        with self._lock:
            self._docs[image_id] = (updated_at, document)
            self._docs.move_to_end(image_id)
            while len(self._docs) > self.capacity:
                self._docs.popitem(last=False)
