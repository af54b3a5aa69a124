"""What the metadata definition modules share: namespace lookup under the caller's
visibility, policy targets, the protected check, list parameters and the document views.

Who sees what: an administrator sees every namespace; anyone else sees public namespaces and
their own project's private ones. A namespace the caller cannot see is 404, never 403, and
that decision is made in the queries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.image import metadef_schemas as schemas
from onestack.image.access import Caller
from onestack.image.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)
from onestack.image.views import isotime

Check = Callable[[str, dict[str, Any]], None]
PREFIX = "/v2/metadefs/namespaces"


def namespace_path(name: str) -> str:
    return f"{PREFIX}/{name}"


def ns_target(namespace: MetadefNamespace) -> dict[str, Any]:
    """What policy rules see of a namespace: ``project_id`` is its owner."""
    return {
        "project_id": namespace.owner,
        "owner": namespace.owner,
        "visibility": namespace.visibility,
        "namespace": namespace.namespace,
    }


def visible(caller: Caller) -> ColumnElement[bool] | None:
    """The condition for namespaces ``caller`` can see: None for all (administrators)."""
    if caller.is_admin:
        return None
    if not caller.project_id:
        return MetadefNamespace.visibility == "public"
    return or_(MetadefNamespace.visibility == "public", MetadefNamespace.owner == caller.project_id)


def find_namespace(
    session: Session, caller: Caller, name: str, lock: bool = False
) -> MetadefNamespace:
    query = select(MetadefNamespace).where(MetadefNamespace.namespace == name)
    condition = visible(caller)
    if condition is not None:
        query = query.where(condition)
    if lock:
        query = query.with_for_update()
    namespace = session.scalars(query).first()
    if namespace is None:
        raise NotFound(f"Metadata definition namespace={name} was not found.")
    return namespace


def check_unprotected(namespace: MetadefNamespace, what: str) -> None:
    if namespace.protected:
        raise Forbidden(
            f"Namespace {namespace.namespace} is protected: {what} cannot be deleted until "
            "protected is set to false."
        )


def touch(namespace: MetadefNamespace) -> None:
    namespace.updated_at = utcnow()


def new_id() -> str:
    return str(uuid.uuid4())


def stamp(document: dict[str, Any], row: Any) -> dict[str, Any]:
    document["created_at"] = isotime(row.created_at)
    document["updated_at"] = isotime(row.updated_at)
    return document


def association_view(row: MetadefResourceTypeAssociation) -> dict[str, Any]:
    document: dict[str, Any] = {"name": row.resource_type}
    if row.prefix is not None:
        document["prefix"] = row.prefix
    if row.properties_target is not None:
        document["properties_target"] = row.properties_target
    return stamp(document, row)


def property_view(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **definition}


def object_view(namespace: str, row: MetadefObject) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": row.name,
        "properties": {name: dict(value) for name, value in (row.properties or {}).items()},
        "required": list(row.required or []),
        "schema": "/v2/schemas/metadefs/object",
        "self": f"{namespace_path(namespace)}/objects/{row.name}",
    }
    if row.description is not None:
        document["description"] = row.description
    return stamp(document, row)


def tag_view(row: MetadefTag) -> dict[str, Any]:
    return stamp({"name": row.name}, row)


def clean_definition(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a property definition: its known keys, without its name (the name
    is the key it is stored under). Unknown keys are dropped, as Glance drops them."""
    return {key: body[key] for key in schemas.PROPERTY_KEYS if key in body}


def clean_properties(properties: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {name: clean_definition(value) for name, value in (properties or {}).items()}


def ensure_resource_type(session: Session, name: str) -> None:
    """Associating an unknown resource type creates it, as the API reference says."""
    if session.get(MetadefResourceType, name) is None:
        now = utcnow()
        session.add(MetadefResourceType(name=name, protected=False, created_at=now, updated_at=now))
        session.flush()


def associate(
    session: Session, namespace: MetadefNamespace, body: dict[str, Any]
) -> MetadefResourceTypeAssociation:
    name = body["name"]
    ensure_resource_type(session, name)
    key = (namespace.id, name)
    if session.get(MetadefResourceTypeAssociation, key) is not None:
        raise Conflict(
            f"Resource type {name} is already associated with namespace {namespace.namespace}."
        )
    now = utcnow()
    row = MetadefResourceTypeAssociation(
        namespace_id=namespace.id,
        resource_type=name,
        prefix=body.get("prefix"),
        properties_target=body.get("properties_target"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    if value is None:
        return min(default, maximum)
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(f"Invalid limit {value!r}: an integer is expected.") from None
    if limit < 0:
        raise BadRequest("limit param must be positive")
    return min(limit, maximum)


def parse_sort(params: dict[str, str], keys: tuple[str, ...]) -> tuple[str, str]:
    sort_key = params.get("sort_key", "created_at")
    if sort_key not in keys:
        raise BadRequest(f"Invalid sort_key {sort_key!r}: one of {', '.join(keys)}.")
    sort_dir = params.get("sort_dir", "desc")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort_dir {sort_dir!r}: asc or desc.")
    return sort_key, sort_dir


def after(column: Any, tiebreak: Any, values: tuple[Any, Any], desc: bool) -> Any:
    """Rows after the marker whose (sort column, unique name) is ``values``, in that order."""
    value, name = values
    if desc:
        return or_(column < value, and_(column == value, tiebreak < name))
    return or_(column > value, and_(column == value, tiebreak > name))
