"""JSON schemas of identity request bodies (the shapes of Keystone's API reference).

Most resources accept free-form extra attributes, as Keystone does; the wrapper object and
the authentication request are strict.
"""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
NULLABLE_ID = {"type": ["string", "null"], "maxLength": 64}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 65535}
ENABLED = {"type": "boolean"}
TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255}}
OPTIONS = {"type": "object"}


def wrap(key: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: inner},
        "required": [key],
        "additionalProperties": False,
    }


def obj(
    props: dict[str, Any], required: tuple[str, ...] = (), strict: bool = False, min_props: int = 0
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": not strict,
    }
    if min_props:
        schema["minProperties"] = min_props
    return schema


DOMAIN = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"},
    "description": DESCRIPTION,
    "enabled": ENABLED,
    "options": OPTIONS,
    "explicit_domain_id": ID,
    "tags": TAGS,
}
domain_create = wrap("domain", obj(DOMAIN, ("name",)))
domain_update = wrap("domain", obj(DOMAIN, min_props=1))

PROJECT = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"},
    "description": DESCRIPTION,
    "domain_id": NULLABLE_ID,
    "parent_id": NULLABLE_ID,
    "enabled": ENABLED,
    "is_domain": {"type": "boolean"},
    "tags": TAGS,
    "options": OPTIONS,
}
project_create = wrap("project", obj(PROJECT, ("name",)))
project_update = wrap("project", obj(PROJECT, min_props=1))
project_tags = obj({"tags": TAGS}, ("tags",), strict=True)

USER = {
    "name": NAME,
    "domain_id": NULLABLE_ID,
    "default_project_id": NULLABLE_ID,
    "enabled": ENABLED,
    "password": {"type": ["string", "null"], "maxLength": 4096},
    "description": DESCRIPTION,
    "email": {"type": ["string", "null"]},
    "options": OPTIONS,
}
user_create = wrap("user", obj(USER, ("name",)))
user_update = wrap("user", obj(USER, min_props=1))
password_change = wrap(
    "user",
    obj(
        {
            "password": {"type": "string", "maxLength": 4096},
            "original_password": {"type": "string", "maxLength": 4096},
        },
        ("password", "original_password"),
        strict=True,
    ),
)

GROUP = {"name": NAME, "domain_id": NULLABLE_ID, "description": DESCRIPTION}
group_create = wrap("group", obj(GROUP, ("name",)))
group_update = wrap("group", obj(GROUP, min_props=1))

ROLE = {"name": NAME, "domain_id": NULLABLE_ID, "description": DESCRIPTION, "options": OPTIONS}
role_create = wrap("role", obj(ROLE, ("name",)))
role_update = wrap("role", obj(ROLE, min_props=1))

REGION = {
    "id": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": DESCRIPTION,
    "parent_region_id": {"type": ["string", "null"]},
}
region_create = wrap("region", obj(REGION))
region_update = wrap("region", obj(REGION, min_props=1))

SERVICE = {
    "type": {"type": "string", "minLength": 1, "maxLength": 255},
    "name": {"type": "string", "maxLength": 255},
    "description": DESCRIPTION,
    "enabled": ENABLED,
}
service_create = wrap("service", obj(SERVICE, ("type",)))
service_update = wrap("service", obj(SERVICE, min_props=1))

ENDPOINT = {
    "service_id": ID,
    "interface": {"type": "string", "enum": ["public", "internal", "admin"]},
    "url": {"type": "string", "minLength": 1, "maxLength": 225, "pattern": r"^[a-zA-Z0-9+.-]+://"},
    "region_id": {"type": ["string", "null"]},
    "region": {"type": ["string", "null"]},
    "enabled": ENABLED,
}
endpoint_create = wrap("endpoint", obj(ENDPOINT, ("service_id", "interface", "url")))
endpoint_update = wrap("endpoint", obj(ENDPOINT, min_props=1))

CREDENTIAL = {
    "user_id": ID,
    "project_id": NULLABLE_ID,
    "type": {"type": "string", "minLength": 1, "maxLength": 255},
    "blob": {"type": "string", "minLength": 1},
}
credential_create = wrap("credential", obj(CREDENTIAL, ("user_id", "type", "blob")))
credential_update = wrap("credential", obj(CREDENTIAL, min_props=1))

ROLE_REF = obj({"id": ID, "name": NAME}, strict=True, min_props=1)
app_cred_create = wrap(
    "application_credential",
    obj(
        {
            "name": NAME,
            "description": DESCRIPTION,
            "secret": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096},
            "expires_at": {"type": ["string", "null"]},
            "roles": {"type": "array", "items": ROLE_REF},
            "unrestricted": {"type": ["boolean", "null"]},
            "access_rules": {"type": "array", "items": {"type": "object"}},
            "system": {"type": ["string", "null"]},
        },
        ("name",),
        strict=True,
    ),
)

# The authentication request is on the hottest write path: its schema checks types and shapes
# only (no patterns, no oneOf); the token service checks names and scopes as it resolves them.
AUTH_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
AUTH_REF = obj({"id": ID, "name": AUTH_NAME}, strict=True)
_USER_REF = obj(
    {
        "id": ID,
        "name": AUTH_NAME,
        "domain": AUTH_REF,
        "password": {"type": "string", "maxLength": 4096},
    },
    strict=True,
)
auth_request = {
    "type": "object",
    "required": ["auth"],
    "additionalProperties": False,
    "properties": {
        "auth": {
            "type": "object",
            "required": ["identity"],
            "additionalProperties": False,
            "properties": {
                "identity": {
                    "type": "object",
                    "required": ["methods"],
                    "properties": {
                        "methods": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        "password": obj({"user": _USER_REF}, ("user",), strict=True),
                        "token": obj(
                            {"id": {"type": "string", "minLength": 1}}, ("id",), strict=True
                        ),
                        "application_credential": obj(
                            {
                                "id": ID,
                                "name": AUTH_NAME,
                                "secret": {"type": "string"},
                                "user": _USER_REF,
                            },
                            ("secret",),
                            strict=True,
                        ),
                    },
                },
                # "unscoped" or an object; which object is checked by the token service.
                "scope": {
                    "type": ["string", "object"],
                    "properties": {
                        "project": obj(
                            {"id": ID, "name": AUTH_NAME, "domain": AUTH_REF}, strict=True
                        ),
                        "domain": AUTH_REF,
                        "system": obj({"all": {"type": "boolean"}}, ("all",), strict=True),
                        "OS-TRUST:trust": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
            },
        }
    },
}
