"""The JSON schemas the Image API serves at /v2/schemas/* (clients such as glanceclient read
them to know the image attributes and their types)."""

from __future__ import annotations

from typing import Any

from onestack.image.attributes import VISIBILITIES
from onestack.image.formats import CONTAINER_FORMATS, DISK_FORMATS

STATUSES = (
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
)
UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
DATE_TIME = {"type": "string", "readOnly": True, "format": "date-time"}


def _read_only(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description, **extra}


def _optional_uuid(description: str) -> dict[str, Any]:
    return {"type": ["null", "string"], "pattern": UUID_PATTERN, "description": description}


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "properties": {
            "id": {"type": "string", "pattern": UUID_PATTERN, "description": "The image id."},
            "name": {"type": ["null", "string"], "maxLength": 255, "description": "A name."},
            "status": _read_only("string", "The image's state.", enum=list(STATUSES)),
            "visibility": {
                "type": "string",
                "enum": list(VISIBILITIES),
                "description": "Who can see the image.",
            },
            "protected": {"type": "boolean", "description": "When true, it cannot be deleted."},
            "os_hidden": {"type": "boolean", "description": "When true, lists leave it out."},
            "checksum": _read_only(["null", "string"], "MD5 of the data.", maxLength=32),
            "os_hash_algo": _read_only(["null", "string"], "The hash algorithm.", maxLength=64),
            "os_hash_value": _read_only(["null", "string"], "The data's hash.", maxLength=128),
            "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner."},
            "size": _read_only(["null", "integer"], "Size of the data in bytes."),
            "virtual_size": _read_only(["null", "integer"], "Virtual size of the disk."),
            "container_format": {
                "type": ["null", "string"],
                "enum": [None, *CONTAINER_FORMATS],
                "description": "Format of the container.",
            },
            "disk_format": {
                "type": ["null", "string"],
                "enum": [None, *DISK_FORMATS],
                "description": "Format of the disk.",
            },
            "created_at": {**DATE_TIME, "description": "When the image was created."},
            "updated_at": {**DATE_TIME, "description": "When the image was last changed."},
            "tags": {
                "type": "array",
                "items": {"type": "string", "maxLength": 255},
                "description": "Tags of the image.",
            },
            "direct_url": _read_only("string", "The data's location in the store."),
            "min_ram": {"type": "integer", "minimum": 0, "description": "RAM needed (MiB)."},
            "min_disk": {"type": "integer", "minimum": 0, "description": "Disk needed (GiB)."},
            "self": _read_only("string", "The image's URL."),
            "file": _read_only("string", "The image data's URL."),
            "stores": _read_only("string", "The stores holding the data."),
            "schema": _read_only("string", "The schema of this document."),
            "locations": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Not shown by this cloud.",
            },
            "kernel_id": _optional_uuid("The image of the kernel to boot an AMI with."),
            "ramdisk_id": _optional_uuid("The image of the ramdisk to boot an AMI with."),
            "instance_uuid": {"type": "string", "description": "The server it was taken from."},
            "architecture": {"type": "string", "description": "CPU architecture, e.g. x86_64."},
            "os_distro": {"type": "string", "description": "The operating system, e.g. debian."},
            "os_version": {"type": "string", "description": "The operating system's version."},
            "description": {"type": "string", "description": "A description."},
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "When the member was added."},
            "updated_at": {"type": "string", "description": "When the status last changed."},
            "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "Image."},
            "member_id": {"type": "string", "description": "The member project."},
            "schema": {"type": "string", "readOnly": True},
            "status": {
                "type": "string",
                "enum": ["pending", "accepted", "rejected"],
                "description": "Whether the member accepted the image.",
            },
        },
    }


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "schema", "href": "{schema}"}],
    }
