"""Metadata definitions (Glance's metadefs): namespaces and resource type associations.

A namespace groups property, object and tag definitions (``metadefs_items.py``) that tell
clients which metadata a kind of resource (an image, a volume, a flavor) may carry.

Who sees what: an administrator sees every namespace; anyone else sees public namespaces and
their own project's private ones. A namespace the caller cannot see is 404, never 403, and
that decision is made in the queries. Writes take a ``check(rule, target)`` callback that
enforces a policy rule inside the transaction, against the namespace row being changed. A
protected namespace can neither be deleted nor have anything deleted from it (403).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from onestack.common.db import Database, retrying, utcnow
from onestack.common.errors import BadRequest, Conflict, NotFound
from onestack.common.http import validate
from onestack.image import metadef_schemas as schemas
from onestack.image.access import Caller
from onestack.image.metadefs_base import (
    Check,
    after,
    associate,
    association_view,
    check_unprotected,
    clean_properties,
    find_namespace,
    namespace_path,
    new_id,
    ns_target,
    object_view,
    parse_limit,
    parse_sort,
    stamp,
    tag_view,
    touch,
    visible,
)
from onestack.image.metadefs_items import MetadefItems
from onestack.image.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)

SORT_KEYS = ("created_at", "updated_at", "namespace")


class Metadefs:
    """Namespaces and resource types; ``items`` holds their objects, properties and tags."""

    def __init__(self, db: Database, limit_default: int, limit_max: int) -> None:
        self.db = db
        self.limit_default = limit_default
        self.limit_max = limit_max
        self.items = MetadefItems(db, limit_default, limit_max)

    # -- views ------------------------------------------------------------------------------

    def _associations(
        self, session: Session, ids: list[str]
    ) -> dict[str, list[MetadefResourceTypeAssociation]]:
        found: dict[str, list[MetadefResourceTypeAssociation]] = {i: [] for i in ids}
        if ids:
            rows = session.scalars(
                select(MetadefResourceTypeAssociation)
                .where(MetadefResourceTypeAssociation.namespace_id.in_(ids))
                .order_by(MetadefResourceTypeAssociation.created_at)
            )
            for row in rows:
                found[row.namespace_id].append(row)
        return found

    @staticmethod
    def _summary(
        namespace: MetadefNamespace, associations: list[MetadefResourceTypeAssociation]
    ) -> dict[str, Any]:
        document: dict[str, Any] = {
            "namespace": namespace.namespace,
            "visibility": namespace.visibility,
            "protected": namespace.protected,
            "schema": "/v2/schemas/metadefs/namespace",
            "self": namespace_path(namespace.namespace),
        }
        # Unset texts are left out, not null: the namespace schema types them as strings.
        for key in ("display_name", "description", "owner"):
            value = getattr(namespace, key)
            if value is not None:
                document[key] = value
        if associations:
            document["resource_type_associations"] = [association_view(a) for a in associations]
        return stamp(document, namespace)

    def _detail(
        self, session: Session, namespace: MetadefNamespace, resource_type: str | None = None
    ) -> dict[str, Any]:
        """The whole namespace: also its properties, objects and tags. With
        ``resource_type``, property names carry that association's prefix."""
        associations = self._associations(session, [namespace.id])[namespace.id]
        document = self._summary(namespace, associations)
        prefix = ""
        if resource_type:
            for association in associations:
                if association.resource_type == resource_type:
                    prefix = association.prefix or ""
        properties = session.scalars(
            select(MetadefProperty)
            .where(MetadefProperty.namespace_id == namespace.id)
            .order_by(MetadefProperty.name)
        ).all()
        if properties:
            document["properties"] = {prefix + p.name: dict(p.definition or {}) for p in properties}
        objects = session.scalars(
            select(MetadefObject)
            .where(MetadefObject.namespace_id == namespace.id)
            .order_by(MetadefObject.name)
        ).all()
        if objects:
            document["objects"] = [object_view(namespace.namespace, o) for o in objects]
        tags = session.scalars(
            select(MetadefTag)
            .where(MetadefTag.namespace_id == namespace.id)
            .order_by(MetadefTag.created_at, MetadefTag.name)
        ).all()
        if tags:
            document["tags"] = [tag_view(t) for t in tags]
        return document

    # -- namespaces -------------------------------------------------------------------------

    def list_namespaces(
        self, caller: Caller, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the namespaces the caller sees, and the marker of the next page."""
        limit = parse_limit(params.get("limit"), self.limit_default, self.limit_max)
        sort_key, sort_dir = parse_sort(params, SORT_KEYS)
        column = getattr(MetadefNamespace, sort_key)
        name_column = MetadefNamespace.namespace
        query = select(MetadefNamespace)
        condition = visible(caller)
        if condition is not None:
            query = query.where(condition)
        visibility = params.get("visibility")
        if visibility is not None:
            if visibility not in ("public", "private"):
                raise BadRequest(f"Invalid visibility {visibility!r}: public or private.")
            query = query.where(MetadefNamespace.visibility == visibility)
        types = [t.strip() for t in params.get("resource_types", "").split(",") if t.strip()]
        if types:
            query = query.where(
                exists(
                    select(MetadefResourceTypeAssociation.namespace_id).where(
                        MetadefResourceTypeAssociation.namespace_id == MetadefNamespace.id,
                        MetadefResourceTypeAssociation.resource_type.in_(types),
                    )
                )
            )
        desc = sort_dir == "desc"
        with self.db.read() as session:
            marker = params.get("marker")
            if marker is not None:
                try:
                    found = find_namespace(session, caller, marker)
                except NotFound:
                    raise BadRequest(f"Invalid marker: namespace {marker} not found.") from None
                query = query.where(
                    after(column, name_column, (getattr(found, sort_key), found.namespace), desc)
                )
            order = (column.desc(), name_column.desc()) if desc else (column, name_column)
            rows = session.scalars(query.order_by(*order).limit(limit + 1)).all()
            page = rows[:limit]
            associations = self._associations(session, [row.id for row in page])
            documents = [self._summary(row, associations[row.id]) for row in page]
        next_marker = page[-1].namespace if len(rows) > limit and page else None
        return documents, next_marker

    def show_namespace(
        self, caller: Caller, name: str, resource_type: str | None = None
    ) -> dict[str, Any]:
        with self.db.read() as session:
            return self._detail(session, find_namespace(session, caller, name), resource_type)

    def namespace_target(self, caller: Caller, name: str) -> dict[str, Any]:
        with self.db.read() as session:
            return ns_target(find_namespace(session, caller, name))

    @retrying
    def create_namespace(self, caller: Caller, body: Any, check: Check) -> dict[str, Any]:
        validate(body, schemas.NAMESPACE_REQUEST)
        owner = body.get("owner") or caller.project_id
        visibility = body.get("visibility") or "private"
        check(
            "image:add_metadef_namespace",
            {"project_id": owner, "owner": owner, "visibility": visibility},
        )
        name = body["namespace"]
        with self.db.write() as session:
            taken = select(MetadefNamespace.id).where(MetadefNamespace.namespace == name)
            if session.scalar(taken) is not None:
                raise Conflict(f"Namespace {name} already exists.")
            now = utcnow()
            namespace = MetadefNamespace(
                id=new_id(),
                namespace=name,
                display_name=body.get("display_name"),
                description=body.get("description"),
                visibility=visibility,
                protected=bool(body.get("protected")),
                owner=owner,
                created_at=now,
                updated_at=now,
            )
            session.add(namespace)
            session.flush()
            # Definitions given with the namespace are created with it, in one transaction.
            for association in body.get("resource_type_associations") or []:
                associate(session, namespace, association)
            for prop_name, definition in clean_properties(body.get("properties")).items():
                session.add(
                    MetadefProperty(
                        id=new_id(),
                        namespace_id=namespace.id,
                        name=prop_name,
                        definition=definition,
                        created_at=now,
                        updated_at=now,
                    )
                )
            object_names: set[str] = set()
            for obj in body.get("objects") or []:
                if obj["name"] in object_names:
                    raise Conflict(f"Duplicate object {obj['name']} in the request.")
                object_names.add(obj["name"])
                session.add(
                    MetadefObject(
                        id=new_id(),
                        namespace_id=namespace.id,
                        name=obj["name"],
                        description=obj.get("description"),
                        required=list(obj.get("required") or []),
                        properties=clean_properties(obj.get("properties")),
                        created_at=now,
                        updated_at=now,
                    )
                )
            tag_names: set[str] = set()
            for tag in body.get("tags") or []:
                if tag["name"] in tag_names:
                    raise Conflict(f"Duplicate tag {tag['name']} in the request.")
                tag_names.add(tag["name"])
                session.add(
                    MetadefTag(
                        id=new_id(),
                        namespace_id=namespace.id,
                        name=tag["name"],
                        created_at=now,
                        updated_at=now,
                    )
                )
            session.flush()
            return self._detail(session, namespace)

    @retrying
    def update_namespace(
        self, caller: Caller, name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        """Replace the namespace's own attributes (not its contents): what the body leaves
        out goes back to its default, as the API reference warns."""
        validate(body, schemas.NAMESPACE_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, name, lock=True)
            check("image:modify_metadef_namespace", ns_target(namespace))
            new_name = body["namespace"]
            if new_name != namespace.namespace:
                taken = select(MetadefNamespace.id).where(MetadefNamespace.namespace == new_name)
                if session.scalar(taken) is not None:
                    raise Conflict(f"Namespace {new_name} already exists.")
                namespace.namespace = new_name
            namespace.display_name = body.get("display_name")
            namespace.description = body.get("description")
            namespace.visibility = body.get("visibility") or "private"
            namespace.protected = bool(body.get("protected"))
            if body.get("owner"):
                namespace.owner = body["owner"]
            touch(namespace)
            session.flush()
            return self._summary(namespace, [])

    @retrying
    def delete_namespace(self, caller: Caller, name: str, check: Check) -> None:
        with self.db.write() as session:
            namespace = find_namespace(session, caller, name, lock=True)
            check("image:delete_metadef_namespace", ns_target(namespace))
            check_unprotected(namespace, "it")
            # Explicit deletes: the contents go whether or not the database cascades.
            for model in (MetadefObject, MetadefProperty, MetadefTag):
                session.execute(delete(model).where(model.namespace_id == namespace.id))
            session.execute(
                delete(MetadefResourceTypeAssociation).where(
                    MetadefResourceTypeAssociation.namespace_id == namespace.id
                )
            )
            session.delete(namespace)

    # -- resource types ---------------------------------------------------------------------

    def list_resource_types(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(
                select(MetadefResourceType).order_by(
                    MetadefResourceType.created_at, MetadefResourceType.name
                )
            ).all()
            return [stamp({"name": row.name}, row) for row in rows]

    def list_associations(self, caller: Caller, name: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            namespace = find_namespace(session, caller, name)
            rows = self._associations(session, [namespace.id])[namespace.id]
            return [association_view(row) for row in rows]

    @retrying
    def create_association(
        self, caller: Caller, name: str, body: Any, check: Check
    ) -> dict[str, Any]:
        validate(body, schemas.ASSOCIATION_REQUEST)
        with self.db.write() as session:
            namespace = find_namespace(session, caller, name, lock=True)
            check("image:add_metadef_resource_type_association", ns_target(namespace))
            row = associate(session, namespace, body)
            touch(namespace)
            return association_view(row)

    @retrying
    def delete_association(
        self, caller: Caller, name: str, resource_type: str, check: Check
    ) -> None:
        with self.db.write() as session:
            namespace = find_namespace(session, caller, name, lock=True)
            check("image:remove_metadef_resource_type_association", ns_target(namespace))
            row = session.get(MetadefResourceTypeAssociation, (namespace.id, resource_type))
            if row is None:
                raise NotFound(
                    f"Resource type {resource_type} is not associated with namespace {name}."
                )
            check_unprotected(namespace, "its resource type associations")
            session.delete(row)
            touch(namespace)
