"""Metadata definitions inside a namespace: objects, properties and tags.

Each is named uniquely within its namespace (409 on a duplicate, also when renaming onto
another's name). Reading follows the namespace's visibility (``metadefs.find_namespace``);
deleting from a protected namespace is 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from onestack.common.db import Database, retrying, utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.http import validate
from onestack.image import metadef_schemas as schemas
from onestack.image.access import Caller
from onestack.image.metadefs_base import (
    Check,
    after,
    check_unprotected,
    clean_definition,
    clean_properties,
    find_namespace,
    new_id,
    ns_target,
    object_view,
    parse_limit,
    parse_sort,
    property_view,
    tag_view,
    touch,
)
from onestack.image.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceTypeAssociation,
    MetadefTag,
)

TAG_SORT_KEYS = ("created_at", "updated_at", "name")
KIND = {MetadefObject: "object", MetadefProperty: "property", MetadefTag: "tag"}


def _find(session: Session, model: Any, namespace: MetadefNamespace, name: str) -> Any:
    row = session.scalars(
        select(model).where(model.namespace_id == namespace.id, model.name == name)
    ).first()
    if row is None:
        raise NotFound(
            f"Metadata definition {KIND[model]}={name} was not found in namespace "
            f"{namespace.namespace}."
        )
    return row


def _check_free(session: Session, model: Any, namespace: MetadefNamespace, name: str) -> None:
    taken = select(model.id).where(model.namespace_id == namespace.id, model.name == name)
    if session.scalar(taken) is not None:
        raise Conflict(
            f"A metadata definition {KIND[model]} with name={name} already exists in "
            f"namespace={namespace.namespace}."
        )


class MetadefItems:
    def __init__(self, db: Database, limit_default: int, limit_max: int) -> None:
        self.db = db
        self.limit_default = limit_default
        self.limit_max = limit_max

    def _list(self, caller: Caller, namespace_name: str, model: Any) -> tuple[str, list[Any]]:
        with self.db.read() as session:
            namespace = find_namespace(session, caller, namespace_name)
            rows = session.scalars(
                select(model).where(model.namespace_id == namespace.id).order_by(model.name)
            ).all()
            return namespace.namespace, list(rows)

    @retrying
    def delete_all(self, caller: Caller, namespace_name: str, kind: str, check: Check) -> None:
        """DELETE .../objects, .../properties or .../tags: everything of that kind."""
        kinds: dict[str, tuple[Any, str]] = {
            "objects": (MetadefObject, "image:delete_metadef_object"),
            "properties": (MetadefProperty, "image:remove_metadef_property"),
            "tags": (MetadefTag, "image:delete_metadef_tags"),
        }
        model, rule = kinds[kind]
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check(rule, ns_target(namespace))
            check_unprotected(namespace, f"its {kind}")
            session.execute(delete(model).where(model.namespace_id == namespace.id))
            touch(namespace)

    @retrying
    def _delete(
        self, caller: Caller, namespace_name: str, model: Any, name: str, rule: str, check: Check
    ) -> None:
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check(rule, ns_target(namespace))
            row = _find(session, model, namespace, name)
            check_unprotected(namespace, f"its {KIND[model]} {name}")
            session.delete(row)
            touch(namespace)

    # -- objects ----------------------------------------------------------------------------

    def list_objects(self, caller: Caller, namespace_name: str) -> list[dict[str, Any]]:
        namespace, rows = self._list(caller, namespace_name, MetadefObject)
        return [object_view(namespace, row) for row in rows]

    def show_object(self, caller: Caller, namespace_name: str, name: str) -> dict[str, Any]:
        with self.db.read() as session:
            namespace = find_namespace(session, caller, namespace_name)
            return object_view(namespace.namespace, _find(session, MetadefObject, namespace, name))

    @retrying
    def create_object(
        self, caller: Caller, namespace_name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        validate(body, schemas.OBJECT_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:add_metadef_object", ns_target(namespace))
            _check_free(session, MetadefObject, namespace, body["name"])
            now = utcnow()
            row = MetadefObject(
                id=new_id(),
                namespace_id=namespace.id,
                name=body["name"],
                description=body.get("description"),
                required=list(body.get("required") or []),
                properties=clean_properties(body.get("properties")),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            touch(namespace)
            session.flush()
            return object_view(namespace.namespace, row)

    @retrying
    def update_object(
        self, caller: Caller, namespace_name: str, name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        """Replace the object: what the body leaves out is removed (the API reference)."""
        validate(body, schemas.OBJECT_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:modify_metadef_object", ns_target(namespace))
            row = _find(session, MetadefObject, namespace, name)
            if body["name"] != row.name:
                _check_free(session, MetadefObject, namespace, body["name"])
                row.name = body["name"]
            row.description = body.get("description")
            row.required = list(body.get("required") or [])
            row.properties = clean_properties(body.get("properties"))
            row.updated_at = utcnow()
            touch(namespace)
            session.flush()
            return object_view(namespace.namespace, row)

    def delete_object(self, caller: Caller, namespace_name: str, name: str, check: Check) -> None:
        self._delete(
            caller, namespace_name, MetadefObject, name, "image:delete_metadef_object", check
        )

    # -- properties -------------------------------------------------------------------------

    def list_properties(self, caller: Caller, namespace_name: str) -> dict[str, Any]:
        _, rows = self._list(caller, namespace_name, MetadefProperty)
        return {row.name: dict(row.definition or {}) for row in rows}

    def show_property(
        self, caller: Caller, namespace_name: str, name: str, resource_type: str | None = None
    ) -> dict[str, Any]:
        """With ``resource_type``, ``name`` may carry that association's prefix (hw_...):
        it is taken off before the lookup, and the answer shows the name as asked."""
        with self.db.read() as session:
            namespace = find_namespace(session, caller, namespace_name)
            stored = name
            if resource_type:
                association = session.get(
                    MetadefResourceTypeAssociation, (namespace.id, resource_type)
                )
                prefix = association.prefix if association is not None else None
                if prefix:
                    if not name.startswith(prefix):
                        raise NotFound(
                            f"Property {name} does not start with the prefix {prefix} of "
                            f"resource type {resource_type}."
                        )
                    stored = name[len(prefix) :]
            row = _find(session, MetadefProperty, namespace, stored)
            return property_view(name, dict(row.definition or {}))

    @retrying
    def create_property(
        self, caller: Caller, namespace_name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        validate(body, schemas.PROPERTY_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:add_metadef_property", ns_target(namespace))
            _check_free(session, MetadefProperty, namespace, body["name"])
            now = utcnow()
            row = MetadefProperty(
                id=new_id(),
                namespace_id=namespace.id,
                name=body["name"],
                definition=clean_definition(body),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            touch(namespace)
            session.flush()
            return property_view(row.name, dict(row.definition))

    @retrying
    def update_property(
        self, caller: Caller, namespace_name: str, name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        validate(body, schemas.PROPERTY_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:modify_metadef_property", ns_target(namespace))
            row = _find(session, MetadefProperty, namespace, name)
            if body["name"] != row.name:
                _check_free(session, MetadefProperty, namespace, body["name"])
                row.name = body["name"]
            row.definition = clean_definition(body)
            row.updated_at = utcnow()
            touch(namespace)
            session.flush()
            return property_view(row.name, dict(row.definition))

    def delete_property(self, caller: Caller, namespace_name: str, name: str, check: Check) -> None:
        self._delete(
            caller, namespace_name, MetadefProperty, name, "image:remove_metadef_property", check
        )

    # -- tags -------------------------------------------------------------------------------

    def list_tags(
        self, caller: Caller, namespace_name: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        limit = parse_limit(params.get("limit"), self.limit_max, self.limit_max)
        sort_key, sort_dir = parse_sort(params, TAG_SORT_KEYS)
        desc = sort_dir == "desc"
        column = getattr(MetadefTag, sort_key)
        with self.db.read() as session:
            namespace = find_namespace(session, caller, namespace_name)
            query = select(MetadefTag).where(MetadefTag.namespace_id == namespace.id)
            marker = params.get("marker")
            if marker is not None:
                tags = select(MetadefTag).where(
                    MetadefTag.namespace_id == namespace.id, MetadefTag.name == marker
                )
                found = session.scalars(tags).first()
                if found is None:
                    raise BadRequest(f"Invalid marker: tag {marker} not found.")
                condition: ColumnElement[bool] = after(
                    column, MetadefTag.name, (getattr(found, sort_key), found.name), desc
                )
                query = query.where(condition)
            order = (column.desc(), MetadefTag.name.desc()) if desc else (column, MetadefTag.name)
            rows = session.scalars(query.order_by(*order).limit(limit)).all()
            return [tag_view(row) for row in rows]

    def show_tag(self, caller: Caller, namespace_name: str, name: str) -> dict[str, Any]:
        with self.db.read() as session:
            namespace = find_namespace(session, caller, namespace_name)
            return tag_view(_find(session, MetadefTag, namespace, name))

    @retrying
    def create_tag(
        self, caller: Caller, namespace_name: str, name: str, check: Check
    ) -> dict[str, Any]:
        validate({"name": name}, schemas.TAG_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:add_metadef_tag", ns_target(namespace))
            _check_free(session, MetadefTag, namespace, name)
            now = utcnow()
            row = MetadefTag(
                id=new_id(), namespace_id=namespace.id, name=name, created_at=now, updated_at=now
            )
            session.add(row)
            touch(namespace)
            session.flush()
            return tag_view(row)

    @retrying
    def create_tags(
        self, caller: Caller, namespace_name: str, body: Any, append: bool, check: Check
    ) -> list[dict[str, Any]]:
        """Create several tags at once. Without ``append`` they replace the namespace's
        tags; with it they are added, and one that exists already is a conflict."""
        validate(body, schemas.TAGS_REQUEST)
        names = [tag["name"] for tag in body["tags"]]
        if len(set(names)) != len(names):
            raise Conflict("The request names a tag more than once.")
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:add_metadef_tags", ns_target(namespace))
            if append:
                for name in names:
                    _check_free(session, MetadefTag, namespace, name)
            else:
                session.execute(delete(MetadefTag).where(MetadefTag.namespace_id == namespace.id))
            now = utcnow()
            for name in names:
                session.add(
                    MetadefTag(
                        id=new_id(),
                        namespace_id=namespace.id,
                        name=name,
                        created_at=now,
                        updated_at=now,
                    )
                )
            touch(namespace)
            return [{"name": name} for name in names]

    @retrying
    def update_tag(
        self, caller: Caller, namespace_name: str, name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        validate(body, schemas.TAG_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, namespace_name, lock=True)
            check("image:modify_metadef_tag", ns_target(namespace))
            row = _find(session, MetadefTag, namespace, name)
            if body["name"] != row.name:
                _check_free(session, MetadefTag, namespace, body["name"])
                row.name = body["name"]
            row.updated_at = utcnow()
            touch(namespace)
            session.flush()
            return tag_view(row)

    def delete_tag(self, caller: Caller, namespace_name: str, name: str, check: Check) -> None:
        self._delete(caller, namespace_name, MetadefTag, name, "image:delete_metadef_tag", check)
