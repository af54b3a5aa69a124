"""Image records: create, show, list, update (JSON patch), delete, tags, (de)activation.

Every method takes the :class:`Caller` and, where the answer depends on the stored image, a
``check(rule, target)`` callback that enforces a policy rule inside the transaction, so the
decision and the write see the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from onestack.common.config import ImageSettings
from onestack.common.db import Database, retrying, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from onestack.image import attributes as attrs
from onestack.image import listing
from onestack.image.access import Caller, find_image
from onestack.image.models import DeletedImage, Image, ImageProperty, ImageTag
from onestack.image.quotas import Quotas
from onestack.image.views import RenderedImages, image_view

Check = Callable[[str, dict[str, Any]], None]
MAX_PROPERTIES = 128
MAX_TAGS = 128


def target(image: Image, **extra: Any) -> dict[str, Any]:
    """What policy rules see of an image: ``project_id`` is its owner."""
    return {
        "project_id": image.owner,
        "owner": image.owner,
        "visibility": image.visibility,
        **extra,
    }


def check_visibility_change(check: Check, image_target: dict[str, Any], visibility: str) -> None:
    if visibility == "public":
        check("image:publicize_image", image_target)
    elif visibility == "community":
        check("image:communitize_image", image_target)


class Records:
    def __init__(self, db: Database, settings: ImageSettings, quotas: Quotas, store_id: str):
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.store_id = store_id
        self.rendered = RenderedImages()

    # -- reading ----------------------------------------------------------------------------

    def _properties(self, session: Session, ids: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {i: {} for i in ids}
        if ids:
            rows = session.execute(
                select(ImageProperty.image_id, ImageProperty.name, ImageProperty.value).where(
                    ImageProperty.image_id.in_(ids)
                )
            )
            for image_id, name, value in rows:
                found[image_id][name] = value
        return found

    def _tags(self, session: Session, ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            rows = session.execute(
                select(ImageTag.image_id, ImageTag.value)
                .where(ImageTag.image_id.in_(ids))
                .order_by(ImageTag.value)
            )
            for image_id, value in rows:
                found[image_id].append(value)
        return found

    def views(self, session: Session, images: Sequence[Image | Row[Any]]) -> list[dict[str, Any]]:
        ids = [image.id for image in images]
        properties = self._properties(session, ids)
        tags = self._tags(session, ids)
        return [image_view(i, properties[i.id], tags[i.id], self.store_id) for i in images]

    def view(self, session: Session, image: Image) -> dict[str, Any]:
        return self.views(session, [image])[0]

    def show(self, caller: Caller, image_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return self.view(session, find_image(session, caller, image_id))

    def list_page(
        self, caller: Caller, params: list[tuple[str, str]]
    ) -> tuple[list[bytes], str | None]:
        """One page of images, each as its JSON document, and the marker of the next page
        (None on the last page)."""
        query = listing.parse(
            params, self.settings.list_limit_default, self.settings.list_limit_max
        )
        with self.db.read() as session:
            keys = listing.page(session, caller, query)
            documents = self.rendered.get_many(keys)
            missing = [
                image_id for (image_id, _), doc in zip(keys, documents, strict=True) if doc is None
            ]
            if missing:
                # On a database server these rows are read in a later statement than the page
                # keys (READ COMMITTED): an image changed in between shows its newer version,
                # and one deleted in between is left out.
                images = session.scalars(select(Image).where(Image.id.in_(missing))).all()
                fresh: dict[str, bytes] = {}
                for image, view in zip(images, self.views(session, images), strict=True):
                    fresh[image.id] = orjson.dumps(view)
                    self.rendered.put(image.id, image.updated_at, fresh[image.id])
                documents = [
                    doc if doc is not None else fresh.get(image_id)
                    for (image_id, _), doc in zip(keys, documents, strict=True)
                ]
        page = [doc for doc in documents if doc is not None]
        next_marker = keys[-1][0] if keys and len(keys) == query.limit else None
        return page, next_marker

    # -- writing ----------------------------------------------------------------------------

    @retrying
    def create(self, caller: Caller, body: dict[str, Any], check: Check) -> dict[str, Any]:
        values: dict[str, Any] = {}
        properties: dict[str, str] = {}
        for name, value in body.items():
            if name != "id" and name not in attrs.SETTABLE:
                attrs.check_name(name)
            checked = attrs.check_value(name, value)
            if name in attrs.CORE:
                values[name] = checked
            else:
                properties[name] = checked
        owner = values.pop("owner", None) or caller.project_id
        if owner != caller.project_id and not caller.is_admin:
            raise Forbidden("You are not permitted to create images owned by another project.")
        visibility = values.pop("visibility", None) or "shared"
        tags = values.pop("tags", [])
        new_target = {"project_id": owner, "owner": owner, "visibility": visibility}
        check("image:add_image", new_target)
        check_visibility_change(check, new_target, visibility)
        if len(properties) > MAX_PROPERTIES:
            raise PayloadTooLarge(f"An image may have at most {MAX_PROPERTIES} properties.")
        if len(tags) > MAX_TAGS:
            raise PayloadTooLarge(f"An image may have at most {MAX_TAGS} tags.")
        image_id = values.pop("id", None) or str(uuid.uuid4())
        with self.db.write() as session:
            if (
                session.get(Image, image_id) is not None
                or session.get(DeletedImage, image_id) is not None
            ):
                # A deleted image's id is never given out again (OSSN-0075): clients and
                # caches that still hold it must not reach someone else's new data.
                raise Conflict(f"Image with identifier {image_id} already exists!")
            if owner:
                self.quotas.check_count(session, owner)
            now = utcnow()
            image = Image(
                id=image_id,
                status="queued",
                visibility=visibility,
                owner=owner,
                min_disk=values.pop("min_disk", 0),
                min_ram=values.pop("min_ram", 0),
                protected=values.pop("protected", False),
                os_hidden=values.pop("os_hidden", False),
                created_at=now,
                updated_at=now,
                **values,
            )
            session.add(image)
            session.flush()
            session.add_all(
                ImageProperty(image_id=image_id, name=k, value=v) for k, v in properties.items()
            )
            session.add_all(ImageTag(image_id=image_id, value=t) for t in tags)
            session.flush()
            return image_view(image, properties, sorted(tags), self.store_id)

    @retrying
    def update(
        self, caller: Caller, image_id: str, patch: list[Any], check: Check
    ) -> dict[str, Any]:
        operations = _parse_patch(patch)
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            image_target = target(image)
            check("image:modify_image", image_target)
            properties = self._properties(session, [image_id])[image_id]
            tags = self._tags(session, [image_id])[image_id]
            old_properties, old_tags = dict(properties), list(tags)
            for op, name, value in operations:
                if name in attrs.CORE:
                    self._change_core(caller, image, op, name, value, check, image_target)
                    if name == "tags":
                        tags = value
                    continue
                if op == "remove":
                    if name not in properties:
                        raise Conflict(f"Property {name} does not exist.")
                    del properties[name]
                elif op == "replace" and name not in properties:
                    raise Conflict(f"Property {name} does not exist.")
                else:
                    properties[name] = value
            if len(properties) > MAX_PROPERTIES:
                raise PayloadTooLarge(f"An image may have at most {MAX_PROPERTIES} properties.")
            if len(tags) > MAX_TAGS:
                raise PayloadTooLarge(f"An image may have at most {MAX_TAGS} tags.")
            if properties != old_properties:
                session.execute(delete(ImageProperty).where(ImageProperty.image_id == image_id))
                session.add_all(
                    ImageProperty(image_id=image_id, name=k, value=v) for k, v in properties.items()
                )
            if tags != old_tags:
                session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
                session.add_all(ImageTag(image_id=image_id, value=t) for t in tags)
            image.updated_at = utcnow()
            session.flush()
            return image_view(image, properties, sorted(tags), self.store_id)

    def _change_core(
        self,
        caller: Caller,
        image: Image,
        op: str,
        name: str,
        value: Any,
        check: Check,
        image_target: dict[str, Any],
    ) -> None:
        if name == "id":
            raise Forbidden("Attribute 'id' is read-only.")
        if op == "remove":
            raise Forbidden(f"Property {name} may not be removed.")
        if name == "visibility":
            # Members stay when an image stops being shared, as in Glance: they see it again
            # once it is shared again.
            check_visibility_change(check, image_target, value)
        elif name == "owner":
            if not caller.is_admin and value != image.owner:
                raise Forbidden("Only an administrator may change an image's owner.")
        elif (
            name in ("disk_format", "container_format")
            and image.status != "queued"
            and getattr(image, name) != value
        ):
            raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
        if name != "tags":
            setattr(image, name, value)

    @retrying
    def delete(self, caller: Caller, image_id: str, check: Check) -> list[str]:
        """Delete the record; returns the store locations to remove (after the commit, so a
        crash between the two leaves an unreferenced file, which the next start removes,
        never a record without its data)."""
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:delete_image", target(image))
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            location = image.location
            session.delete(image)
            session.add(DeletedImage(id=image_id, owner=image.owner, deleted_at=utcnow()))
        return [location] if location else []

    @retrying
    def set_active(self, caller: Caller, image_id: str, active: bool, check: Check) -> None:
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:reactivate" if active else "image:deactivate", target(image))
            wanted, other = ("active", "deactivated") if active else ("deactivated", "active")
            if image.status == wanted:
                return
            if image.status != other:
                verb = "reactivate" if active else "deactivate"
                raise Forbidden(f"Not allowed to {verb} image in status '{image.status}'")
            image.status = wanted
            image.updated_at = utcnow()

    @retrying
    def add_tag(self, caller: Caller, image_id: str, tag: str, check: Check) -> None:
        attrs.check_tag(tag)
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:modify_image", target(image))
            tags = self._tags(session, [image_id])[image_id]
            if tag in tags:
                return
            if len(tags) >= MAX_TAGS:
                raise PayloadTooLarge(f"An image may have at most {MAX_TAGS} tags.")
            session.add(ImageTag(image_id=image_id, value=tag))
            image.updated_at = utcnow()

    @retrying
    def delete_tag(self, caller: Caller, image_id: str, tag: str, check: Check) -> None:
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:modify_image", target(image))
            row = session.get(ImageTag, (image_id, tag))
            if row is None:
                raise NotFound(f"Tag {tag} not found.")
            session.delete(row)
            image.updated_at = utcnow()


def from_v20_patch(patch: Any) -> Any:
    """The deprecated v2.0 patch names the operation as the key ({"replace": "/name",
    "value": ...}); rewrite it as a v2.1 patch ({"op": "replace", "path": "/name", ...})."""
    if not isinstance(patch, list):
        return patch
    rewritten: list[Any] = []
    for item in patch:
        ops = [op for op in ("add", "replace", "remove") if isinstance(item, dict) and op in item]
        if len(ops) != 1:
            rewritten.append(item)
            continue
        op = ops[0]
        changed = {k: v for k, v in item.items() if k != op}
        rewritten.append({"op": op, "path": item[op], **changed})
    return rewritten


def _parse_patch(patch: Any) -> list[tuple[str, str, Any]]:
    """Check a JSON patch (add/replace/remove of one attribute each) before anything changes."""
    if not isinstance(patch, list):
        raise BadRequest("A JSON patch must be a list of operations.")
    operations: list[tuple[str, str, Any]] = []
    for item in patch:
        if not isinstance(item, dict):
            raise BadRequest("Each JSON patch operation must be an object.")
        op = item.get("op")
        if op not in ("add", "replace", "remove"):
            raise BadRequest(f"Invalid JSON patch operation {op!r}: add, replace or remove.")
        if "path" not in item:
            raise BadRequest("A JSON patch operation needs a 'path'.")
        extra = set(item) - {"op", "path", "value"}
        if extra:
            raise BadRequest(f"Unexpected members in a JSON patch operation: {sorted(extra)}.")
        name = attrs.parse_pointer(item["path"])
        if name != "id" and name not in attrs.SETTABLE:
            attrs.check_name(name)
        if op == "remove":
            if "value" in item:
                raise BadRequest("A remove operation takes no 'value'.")
            operations.append((op, name, None))
            continue
        if "value" not in item:
            raise BadRequest(f"A {op} operation needs a 'value'.")
        value = item["value"] if name == "id" else attrs.check_value(name, item["value"])
        operations.append((op, name, value))
    return operations
