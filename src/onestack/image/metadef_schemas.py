"""The JSON schemas of metadata definitions: the documents /v2/schemas/metadefs/* serve, and
the request schemas the service checks bodies against.

Clients build their models from the served documents (python-glanceclient validates with
warlock against them and rejects unknown keys where ``additionalProperties`` is false), so
every key a response carries must be declared here.
"""

from __future__ import annotations

import copy
from typing import Any

JSON_TYPES = ["array", "boolean", "integer", "number", "object", "string", None]


def _timestamp(what: str) -> dict[str, Any]:
    return {"type": "string", "readOnly": True, "description": what, "format": "date-time"}


def _read_only() -> dict[str, Any]:
    return {"type": "string", "readOnly": True}


def _definitions() -> dict[str, Any]:
    """Shared definitions: a property definition (a subset of JSON schema itself)."""
    return {
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {
            "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
        },
        "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "property": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": _property_fields(),
            },
        },
    }


def _property_fields() -> dict[str, Any]:
    return {
        "name": {"type": "string", "maxLength": 255},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": JSON_TYPES},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": JSON_TYPES},
                "enum": {"type": "array"},
            },
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _association_fields() -> dict[str, Any]:
    return {
        "name": {
            "type": "string",
            "maxLength": 80,
            "description": "A resource type name, as Heat names resource types "
            "(e.g. OS::Glance::Image).",
        },
        "prefix": {
            "type": "string",
            "maxLength": 80,
            "description": "Prefix of the namespace's property names when applied to this "
            "resource type, separator included (e.g. hw_).",
        },
        "properties_target": {
            "type": "string",
            "maxLength": 80,
            "description": "Which kind of metadata of the resource the properties apply to, "
            "for resource types with more than one (e.g. image on volumes).",
        },
        "created_at": _timestamp("Date and time of the association"),
        "updated_at": _timestamp("Date and time of the last change of the association"),
    }


def _collection(name: str, item: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A list document: the items under ``key`` plus first/next/schema links."""
    key = key or name
    document = {
        "name": name,
        "properties": {
            key: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
    if "definitions" in item:
        document["definitions"] = item.pop("definitions")
    return document


def namespace_schema() -> dict[str, Any]:
    return {
        "name": "namespace",
        "additionalProperties": False,
        "required": ["namespace"],
        "definitions": _definitions(),
        "properties": {
            "namespace": {
                "type": "string",
                "maxLength": 80,
                "description": "The unique name of the namespace.",
            },
            "display_name": {
                "type": "string",
                "maxLength": 80,
                "description": "A user-friendly name of the namespace, for user interfaces.",
            },
            "description": {
                "type": "string",
                "maxLength": 500,
                "description": "What the namespace holds.",
            },
            "visibility": {
                "type": "string",
                "enum": ["public", "private"],
                "description": "Who may see the namespace.",
            },
            "protected": {
                "type": "boolean",
                "description": "While true, neither the namespace nor its contents can be deleted.",
            },
            "owner": {
                "type": "string",
                "maxLength": 255,
                "description": "The project that owns the namespace.",
            },
            "created_at": _timestamp("Date and time of the namespace's creation"),
            "updated_at": _timestamp("Date and time of the namespace's last change"),
            "schema": _read_only(),
            "self": _read_only(),
            "resource_type_associations": {
                "type": "array",
                "items": {"type": "object", "properties": _association_fields()},
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "required": {"$ref": "#/definitions/stringArray"},
                        "properties": {"$ref": "#/definitions/property"},
                        "created_at": _timestamp("Date and time of the object's creation"),
                        "updated_at": _timestamp("Date and time of the object's last change"),
                        "schema": _read_only(),
                        "self": _read_only(),
                    },
                },
            },
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "created_at": _timestamp("Date and time of the tag's creation"),
                        "updated_at": _timestamp("Date and time of the tag's last change"),
                    },
                },
            },
        },
    }


def namespaces_schema() -> dict[str, Any]:
    return _collection("namespaces", namespace_schema())


def resource_type_schema() -> dict[str, Any]:
    return {
        "name": "resource_type_association",
        "additionalProperties": False,
        "required": ["name"],
        "properties": _association_fields(),
    }


def resource_types_schema() -> dict[str, Any]:
    return _collection(
        "resource_type_associations", resource_type_schema(), "resource_type_associations"
    )


def object_schema() -> dict[str, Any]:
    return {
        "name": "object",
        "additionalProperties": False,
        "required": ["name"],
        "definitions": _definitions(),
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "created_at": _timestamp("Date and time of the object's creation"),
            "updated_at": _timestamp("Date and time of the object's last change"),
            "schema": _read_only(),
            "self": _read_only(),
        },
    }


def objects_schema() -> dict[str, Any]:
    return _collection("objects", object_schema())


def property_schema() -> dict[str, Any]:
    return {
        "name": "property",
        "additionalProperties": False,
        "required": ["name", "title", "type"],
        "definitions": {key: value for key, value in _definitions().items() if key != "property"},
        "properties": _property_fields(),
    }


def properties_schema() -> dict[str, Any]:
    return {
        "name": "properties",
        "definitions": _definitions(),
        "properties": {
            "properties": {"$ref": "#/definitions/property"},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def tag_schema() -> dict[str, Any]:
    return {
        "name": "tag",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 255},
            "created_at": _timestamp("Date and time of the tag's creation"),
            "updated_at": _timestamp("Date and time of the tag's last change"),
        },
    }


def tags_schema() -> dict[str, Any]:
    return _collection("tags", tag_schema())


# path under /v2/schemas/ -> builder, for the routes.
DOCUMENTS = {
    "metadefs/namespace": namespace_schema,
    "metadefs/namespaces": namespaces_schema,
    "metadefs/resource_type": resource_type_schema,
    "metadefs/resource_types": resource_types_schema,
    "metadefs/object": object_schema,
    "metadefs/objects": objects_schema,
    "metadefs/property": property_schema,
    "metadefs/properties": properties_schema,
    "metadefs/tag": tag_schema,
    "metadefs/tags": tags_schema,
}


# -- request schemas ----------------------------------------------------------------------------
# What a request body must look like. Read-only keys a client echoes back from a document it
# fetched (created_at, self, schema, ...) are accepted and ignored, as Glance does.

_NAME80 = {"type": "string", "minLength": 1, "maxLength": 80}
_NAME255 = {"type": "string", "minLength": 1, "maxLength": 255}
_OPTIONAL_TEXT = {"type": ["string", "null"]}

PROPERTY_KEYS = tuple(key for key in _property_fields() if key != "name")


def _request_property() -> dict[str, Any]:
    fields = copy.deepcopy(_property_fields())
    fields["name"] = _NAME255
    # The property's own "required" (for object-typed properties) is a plain list here.
    fields["required"] = {"type": "array", "items": {"type": "string"}}
    fields["maxLength"] = fields["maxItems"] = {"type": "integer", "minimum": 0}
    fields["minLength"] = fields["minItems"] = {"type": "integer", "minimum": 0}
    fields["type"] = {"type": "string", "enum": [t for t in JSON_TYPES if t is not None]}
    # No "default" anywhere in request schemas: the validator would write it into the body.
    fields["uniqueItems"] = {"type": "boolean"}
    return {"type": "object", "required": ["title", "type"], "properties": fields}


def _request_properties() -> dict[str, Any]:
    return {
        "type": "object",
        "propertyNames": {"minLength": 1, "maxLength": 255},
        "additionalProperties": _request_property(),
    }


PROPERTY_REQUEST: dict[str, Any] = {**_request_property(), "required": ["name", "title", "type"]}

OBJECT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME80,
        "description": _OPTIONAL_TEXT,
        "required": {"type": ["array", "null"], "items": {"type": "string"}},
        "properties": {"anyOf": [_request_properties(), {"type": "null"}]},
    },
}

TAG_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _NAME255},
}

TAGS_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["tags"],
    "properties": {"tags": {"type": "array", "items": TAG_REQUEST}},
}

ASSOCIATION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME80,
        "prefix": {"type": ["string", "null"], "maxLength": 80},
        "properties_target": {"type": ["string", "null"], "maxLength": 80},
    },
}

NAMESPACE_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["namespace"],
    "properties": {
        "namespace": _NAME80,
        "display_name": {"type": ["string", "null"], "maxLength": 80},
        "description": {"type": ["string", "null"], "maxLength": 500},
        "visibility": {"type": ["string", "null"], "enum": ["public", "private", None]},
        "protected": {"type": ["boolean", "null"]},
        "owner": {"type": ["string", "null"], "maxLength": 255},
        "resource_type_associations": {"type": ["array", "null"], "items": ASSOCIATION_REQUEST},
        "properties": {"anyOf": [_request_properties(), {"type": "null"}]},
        "objects": {"type": ["array", "null"], "items": OBJECT_REQUEST},
        "tags": {"type": ["array", "null"], "items": TAG_REQUEST},
    },
}
