"""Which image attributes a caller may set, and how their values are checked.

Shared by image create (a JSON object) and image update (a JSON patch), so both refuse the
same things with the same status: read-only and reserved names 403, wrong values 400.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from onestack.common.errors import BadRequest, Forbidden
from onestack.image.formats import CONTAINER_FORMATS, DISK_FORMATS

VISIBILITIES = ("public", "private", "shared", "community")
READ_ONLY = frozenset(
    {
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "stores",
    }
)
RESERVED = frozenset({"deleted", "deleted_at", "location", "locations"})
RESERVED_PREFIX = "os_glance"
# Core attributes a caller may set (id only at create time).
SETTABLE = frozenset(
    {
        "name",
        "visibility",
        "tags",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "protected",
        "os_hidden",
        "owner",
    }
)
CORE = READ_ONLY | SETTABLE | {"id"}
MAX_NAME = 255
MAX_INT = 2**31 - 1


def check_name(name: str) -> None:
    """A property name the caller may use: 403 for reserved and read-only, 400 when bad."""
    if name in READ_ONLY:
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{name}' is reserved.")
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"Invalid property name {name[:300]!r}: 1 to {MAX_NAME} characters.")
    if any(ord(ch) < 32 for ch in name):
        raise BadRequest("Property names may not contain control characters.")


def _enum(name: str, value: Any, allowed: tuple[str, ...], nullable: bool) -> Any:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(
            f"Invalid value {value!r} for '{name}': expected one of {', '.join(allowed)}."
        )
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise BadRequest(f"Invalid value {value!r} for '{name}': expected an integer >= 0.")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid value {value!r} for '{name}': expected a boolean.")
    return value


def check_tags(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest("Invalid value for 'tags': expected a list of strings.")
    tags: list[str] = []
    for tag in value:
        check_tag(tag)
        if tag not in tags:
            tags.append(tag)
    return tags


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_NAME:
        raise BadRequest(f"Invalid tag {tag!r}: a string of 1 to {MAX_NAME} characters.")
    if "/" in tag:
        # glanceclient puts tags in a URL path.
        raise BadRequest(f"Invalid tag {tag!r}: '/' is not allowed.")
    return tag


def check_value(name: str, value: Any) -> Any:
    """The checked value of a core attribute or custom property ``name``."""
    if name == "id":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise BadRequest(f"Invalid value {value!r} for 'id': expected a UUID.") from None
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            raise BadRequest(f"Invalid value for 'name': a string of at most {MAX_NAME}.")
        return value
    if name == "visibility":
        return _enum(name, value, VISIBILITIES, nullable=False)
    if name == "disk_format":
        return _enum(name, value, DISK_FORMATS, nullable=True)
    if name == "container_format":
        return _enum(name, value, CONTAINER_FORMATS, nullable=True)
    if name in ("min_disk", "min_ram"):
        return _int(name, value)
    if name in ("protected", "os_hidden"):
        return _bool(name, value)
    if name == "tags":
        return check_tags(value)
    if name == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            raise BadRequest("Invalid value for 'owner': a project id.")
        return value
    if not isinstance(value, str):
        raise BadRequest(f"Invalid value for '{name}': custom properties are strings.")
    if len(value) > 65535:
        raise BadRequest(f"Invalid value for '{name}': at most 65535 characters.")
    return value


def parse_pointer(path: Any) -> str:
    """The one attribute a restricted JSON pointer (``/name``) names; 400 otherwise."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequest(f"Invalid JSON pointer {path!r}: it must start with '/'.")
    parts = path[1:].split("/")
    if len(parts) != 1:
        raise BadRequest(f"Invalid JSON pointer {path!r}: nested paths are not allowed.")
    part = parts[0]
    if re.search("~(?![01])", part):
        raise BadRequest(f"Invalid JSON pointer {path!r}: bad escape.")
    return part.replace("~1", "/").replace("~0", "~")
