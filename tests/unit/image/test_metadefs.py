"""Metadata definitions: namespaces (visibility, listing, protection), objects, properties,
tags, resource type associations, and the schema documents their answers must satisfy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from onestack.common.config import Settings
from onestack.common.db import Database
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.image import metadef_schemas
from onestack.image.access import Caller
from onestack.image.metadefs import Metadefs
from onestack.image.service import ImageService

ADMIN = Caller(project_id="admin-project", is_admin=True)
READER_A = Caller(project_id="project-a", is_admin=False)
READER_B = Caller(project_id="project-b", is_admin=False)


class Checks:
    """A policy callback that allows everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, rule: str, target: dict[str, Any]) -> None:
        self.asked.append((rule, target))

    @property
    def rules(self) -> list[str]:
        return [rule for rule, _ in self.asked]


def deny(rule: str, _target: dict[str, Any]) -> None:
    raise Forbidden(f"{rule} is not allowed")


@pytest.fixture
def metadefs(db: Database, tmp_path: Path) -> Metadefs:
    return ImageService(db, Settings(state_dir=tmp_path)).metadefs


def make(metadefs: Metadefs, name: str, caller: Caller = ADMIN, **body: Any) -> dict[str, Any]:
    return metadefs.create_namespace(caller, {"namespace": name, **body}, Checks())


def names(documents: list[dict[str, Any]]) -> list[str]:
    return [d["namespace"] for d in documents]


# -- namespaces -----------------------------------------------------------------------------------


def test_create_defaults_and_show(metadefs: Metadefs) -> None:
    checks = Checks()
    created = metadefs.create_namespace(ADMIN, {"namespace": "OS::Test::One"}, checks)
    assert checks.rules == ["image:add_metadef_namespace"]
    assert created["visibility"] == "private"
    assert created["protected"] is False
    assert created["owner"] == "admin-project"
    assert created["self"] == "/v2/metadefs/namespaces/OS::Test::One"
    assert created["schema"] == "/v2/schemas/metadefs/namespace"
    # Unset texts are absent (the schema types them as strings, null would not validate).
    assert "description" not in created and "display_name" not in created
    shown = metadefs.show_namespace(ADMIN, "OS::Test::One")
    assert shown == created


def test_duplicate_namespace_is_conflict(metadefs: Metadefs) -> None:
    make(metadefs, "dup")
    with pytest.raises(Conflict):
        make(metadefs, "dup", caller=Caller(project_id="other", is_admin=True))


def test_create_denied_by_policy_writes_nothing(metadefs: Metadefs) -> None:
    with pytest.raises(Forbidden):
        metadefs.create_namespace(READER_A, {"namespace": "nope"}, deny)
    assert metadefs.list_namespaces(ADMIN, {})[0] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"namespace": ""},
        {"namespace": "x" * 81},
        {"namespace": "n", "visibility": "shared"},
        {"namespace": "n", "protected": "yes"},
        {"namespace": "n", "properties": {"p": {"title": "no type"}}},
        {"namespace": "n", "properties": {"p": {"title": "t", "type": "strange"}}},
    ],
)
def test_invalid_namespace_bodies(metadefs: Metadefs, body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        metadefs.create_namespace(ADMIN, body, Checks())


def test_visibility_between_projects(metadefs: Metadefs) -> None:
    make(metadefs, "pub", visibility="public", owner="project-a")
    make(metadefs, "priv-a", visibility="private", owner="project-a")
    make(metadefs, "priv-b", visibility="private", owner="project-b")
    assert sorted(names(metadefs.list_namespaces(READER_A, {})[0])) == ["priv-a", "pub"]
    assert sorted(names(metadefs.list_namespaces(READER_B, {})[0])) == ["priv-b", "pub"]
    assert len(metadefs.list_namespaces(ADMIN, {})[0]) == 3
    metadefs.show_namespace(READER_B, "pub")
    # Another project's private namespace does not exist for the caller: 404, not 403.
    with pytest.raises(NotFound):
        metadefs.show_namespace(READER_B, "priv-a")
    with pytest.raises(NotFound):
        metadefs.delete_namespace(READER_B, "priv-a", Checks())
    with pytest.raises(NotFound):
        metadefs.items.list_objects(READER_B, "priv-a")
    # A public one is visible, so a write is the policy's call.
    with pytest.raises(Forbidden):
        metadefs.delete_namespace(READER_B, "pub", deny)


def test_list_filters_sort_and_pages(metadefs: Metadefs) -> None:
    for index, name in enumerate(["c", "a", "d", "b"]):
        make(
            metadefs,
            name,
            visibility="public" if index % 2 else "private",
            resource_type_associations=[{"name": "OS::Glance::Image"}] if name in "ab" else [],
        )
    listed, marker = metadefs.list_namespaces(ADMIN, {})
    assert names(listed) == ["b", "d", "a", "c"] and marker is None  # newest first
    assert names(metadefs.list_namespaces(ADMIN, {"sort_dir": "asc"})[0]) == ["c", "a", "d", "b"]
    by_name = {"sort_key": "namespace", "sort_dir": "asc"}
    assert names(metadefs.list_namespaces(ADMIN, by_name)[0]) == ["a", "b", "c", "d"]
    assert names(metadefs.list_namespaces(ADMIN, {"visibility": "public"})[0]) == ["b", "a"]
    filtered = metadefs.list_namespaces(
        ADMIN, {"resource_types": "OS::Nova::Flavor,OS::Glance::Image"}
    )
    assert sorted(names(filtered[0])) == ["a", "b"]
    assert filtered[0][0]["resource_type_associations"][0]["name"] == "OS::Glance::Image"
    # Pages of two, following the marker.
    seen: list[str] = []
    params = {**by_name, "limit": "2"}
    while True:
        page, marker = metadefs.list_namespaces(ADMIN, params)
        seen += names(page)
        if marker is None:
            break
        params = {**params, "marker": marker}
    assert seen == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "-1"},
        {"limit": "x"},
        {"sort_key": "owner"},
        {"sort_dir": "up"},
        {"visibility": "community"},
        {"marker": "missing"},
    ],
)
def test_list_bad_parameters(metadefs: Metadefs, params: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        metadefs.list_namespaces(ADMIN, params)


def test_update_replaces_attributes_and_renames(metadefs: Metadefs) -> None:
    make(metadefs, "old", description="d", display_name="Old", visibility="public")
    checks = Checks()
    updated = metadefs.update_namespace(ADMIN, "old", {"namespace": "new"}, checks)
    assert checks.rules == ["image:modify_metadef_namespace"]
    # What the body leaves out goes back to its default, as the API reference warns.
    assert updated["namespace"] == "new" and updated["visibility"] == "private"
    assert "description" not in updated and "display_name" not in updated
    with pytest.raises(NotFound):
        metadefs.show_namespace(ADMIN, "old")
    make(metadefs, "other")
    with pytest.raises(Conflict):
        metadefs.update_namespace(ADMIN, "new", {"namespace": "other"}, Checks())


def test_protected_namespace_cannot_lose_anything(metadefs: Metadefs) -> None:
    make(
        metadefs,
        "guarded",
        protected=True,
        objects=[{"name": "o"}],
        properties={"p": {"title": "P", "type": "string"}},
        tags=[{"name": "t"}],
        resource_type_associations=[{"name": "OS::Glance::Image"}],
    )
    items = metadefs.items
    attempts = [
        lambda: metadefs.delete_namespace(ADMIN, "guarded", Checks()),
        lambda: items.delete_object(ADMIN, "guarded", "o", Checks()),
        lambda: items.delete_property(ADMIN, "guarded", "p", Checks()),
        lambda: items.delete_tag(ADMIN, "guarded", "t", Checks()),
        lambda: items.delete_all(ADMIN, "guarded", "objects", Checks()),
        lambda: items.delete_all(ADMIN, "guarded", "properties", Checks()),
        lambda: items.delete_all(ADMIN, "guarded", "tags", Checks()),
        lambda: metadefs.delete_association(ADMIN, "guarded", "OS::Glance::Image", Checks()),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt()
    shown = metadefs.show_namespace(ADMIN, "guarded")
    assert [o["name"] for o in shown["objects"]] == ["o"]
    assert list(shown["properties"]) == ["p"]
    metadefs.update_namespace(ADMIN, "guarded", {"namespace": "guarded"}, Checks())
    metadefs.delete_namespace(ADMIN, "guarded", Checks())
    with pytest.raises(NotFound):
        metadefs.show_namespace(ADMIN, "guarded")
    # The contents went with it: a namespace of the same name starts empty.
    make(metadefs, "guarded")
    assert items.list_objects(ADMIN, "guarded") == []
    assert metadefs.list_associations(ADMIN, "guarded") == []


def test_create_with_contents_and_prefixed_show(metadefs: Metadefs) -> None:
    created = make(
        metadefs,
        "OS::Compute::Thing",
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "hw_"}],
        properties={"cpu": {"title": "CPU", "type": "integer", "minimum": 1, "junk": 1}},
        objects=[{"name": "Obj", "properties": {"x": {"title": "X", "type": "string"}}}],
        tags=[{"name": "fast"}],
    )
    # Unknown keys of a property definition are dropped.
    assert created["properties"] == {"cpu": {"title": "CPU", "type": "integer", "minimum": 1}}
    assert created["objects"][0]["self"] == (
        "/v2/metadefs/namespaces/OS::Compute::Thing/objects/Obj"
    )
    assert [t["name"] for t in created["tags"]] == ["fast"]
    prefixed = metadefs.show_namespace(ADMIN, "OS::Compute::Thing", "OS::Glance::Image")
    assert list(prefixed["properties"]) == ["hw_cpu"]
    shown = metadefs.items.show_property(ADMIN, "OS::Compute::Thing", "hw_cpu", "OS::Glance::Image")
    assert shown["name"] == "hw_cpu" and shown["minimum"] == 1
    with pytest.raises(NotFound):
        metadefs.items.show_property(ADMIN, "OS::Compute::Thing", "cpu", "OS::Glance::Image")


def test_duplicate_contents_in_one_request(metadefs: Metadefs) -> None:
    with pytest.raises(Conflict):
        make(metadefs, "n", objects=[{"name": "o"}, {"name": "o"}])
    with pytest.raises(Conflict):
        make(metadefs, "n", tags=[{"name": "t"}, {"name": "t"}])
    assert metadefs.list_namespaces(ADMIN, {})[0] == []


# -- objects, properties, tags ------------------------------------------------------------------


def test_objects(metadefs: Metadefs) -> None:
    make(metadefs, "ns")
    items = metadefs.items
    checks = Checks()
    body = {
        "name": "CPU Limits",
        "description": "limits",
        "required": ["quota:cpu"],
        "properties": {"quota:cpu": {"title": "CPU", "type": "integer"}},
    }
    created = items.create_object(ADMIN, "ns", body, checks)
    assert checks.rules == ["image:add_metadef_object"]
    assert created["name"] == "CPU Limits" and created["required"] == ["quota:cpu"]
    assert created["schema"] == "/v2/schemas/metadefs/object"
    assert items.show_object(ADMIN, "ns", "CPU Limits") == created
    with pytest.raises(Conflict):
        items.create_object(ADMIN, "ns", {"name": "CPU Limits"}, Checks())
    items.create_object(ADMIN, "ns", {"name": "Other"}, Checks())
    # An update replaces the object: what is left out is removed.
    updated = items.update_object(ADMIN, "ns", "CPU Limits", {"name": "Renamed"}, Checks())
    assert updated["properties"] == {} and "description" not in updated
    with pytest.raises(Conflict):
        items.update_object(ADMIN, "ns", "Renamed", {"name": "Other"}, Checks())
    with pytest.raises(NotFound):
        items.show_object(ADMIN, "ns", "CPU Limits")
    assert [o["name"] for o in items.list_objects(ADMIN, "ns")] == ["Other", "Renamed"]
    items.delete_object(ADMIN, "ns", "Renamed", Checks())
    with pytest.raises(NotFound):
        items.delete_object(ADMIN, "ns", "Renamed", Checks())
    items.delete_all(ADMIN, "ns", "objects", Checks())
    assert items.list_objects(ADMIN, "ns") == []
    with pytest.raises(BadRequest):
        items.create_object(ADMIN, "ns", {"name": "x", "properties": {"p": {}}}, Checks())


def test_properties(metadefs: Metadefs) -> None:
    make(metadefs, "ns")
    items = metadefs.items
    enum = ["kvm", "qemu"]
    body = {"name": "hypervisor", "title": "Hypervisor", "type": "string", "enum": enum}
    created = items.create_property(ADMIN, "ns", body, Checks())
    assert created == body
    with pytest.raises(Conflict):
        items.create_property(ADMIN, "ns", body, Checks())
    with pytest.raises(BadRequest):
        items.create_property(ADMIN, "ns", {"name": "x", "type": "string"}, Checks())
    with pytest.raises(BadRequest):
        items.create_property(ADMIN, "ns", {"title": "x", "type": "string"}, Checks())
    updated = items.update_property(
        ADMIN, "ns", "hypervisor", {**body, "title": "Hypervisor type"}, Checks()
    )
    assert updated["title"] == "Hypervisor type"
    assert items.list_properties(ADMIN, "ns") == {
        "hypervisor": {"title": "Hypervisor type", "type": "string", "enum": enum}
    }
    items.delete_property(ADMIN, "ns", "hypervisor", Checks())
    assert items.list_properties(ADMIN, "ns") == {}


def test_tags(metadefs: Metadefs) -> None:
    make(metadefs, "ns")
    items = metadefs.items
    items.create_tag(ADMIN, "ns", "single", Checks())
    with pytest.raises(Conflict):
        items.create_tag(ADMIN, "ns", "single", Checks())
    body = {"tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
    # Without append the new tags replace the old ones.
    assert items.create_tags(ADMIN, "ns", body, False, Checks()) == body["tags"]
    tags = items.list_tags(ADMIN, "ns", {"sort_key": "name", "sort_dir": "asc"})
    assert [t["name"] for t in tags] == ["a", "b", "c"]
    with pytest.raises(Conflict):
        items.create_tags(ADMIN, "ns", {"tags": [{"name": "a"}]}, True, Checks())
    with pytest.raises(Conflict):
        items.create_tags(ADMIN, "ns", {"tags": [{"name": "z"}, {"name": "z"}]}, True, Checks())
    items.create_tags(ADMIN, "ns", {"tags": [{"name": "d"}]}, True, Checks())
    page = items.list_tags(
        ADMIN, "ns", {"sort_key": "name", "sort_dir": "asc", "limit": "2", "marker": "b"}
    )
    assert [t["name"] for t in page] == ["c", "d"]
    renamed = items.update_tag(ADMIN, "ns", "a", {"name": "aa"}, Checks())
    assert renamed["name"] == "aa"
    with pytest.raises(Conflict):
        items.update_tag(ADMIN, "ns", "aa", {"name": "b"}, Checks())
    assert items.show_tag(ADMIN, "ns", "aa")["name"] == "aa"
    items.delete_tag(ADMIN, "ns", "aa", Checks())
    with pytest.raises(NotFound):
        items.show_tag(ADMIN, "ns", "aa")
    items.delete_all(ADMIN, "ns", "tags", Checks())
    assert items.list_tags(ADMIN, "ns", {}) == []


# -- resource types -----------------------------------------------------------------------------


def test_resource_types_and_associations(metadefs: Metadefs) -> None:
    seeded = [t["name"] for t in metadefs.list_resource_types()]
    assert "OS::Glance::Image" in seeded and "OS::Nova::Flavor" in seeded
    make(metadefs, "ns")
    body = {"name": "OS::Cinder::Volume", "prefix": "hw_", "properties_target": "image"}
    created = metadefs.create_association(ADMIN, "ns", body, Checks())
    assert {k: created[k] for k in body} == body and "created_at" in created
    with pytest.raises(Conflict):
        metadefs.create_association(ADMIN, "ns", body, Checks())
    # An unknown resource type is created by associating it.
    metadefs.create_association(ADMIN, "ns", {"name": "OS::New::Thing"}, Checks())
    assert "OS::New::Thing" in [t["name"] for t in metadefs.list_resource_types()]
    listed = [a["name"] for a in metadefs.list_associations(ADMIN, "ns")]
    assert listed == ["OS::Cinder::Volume", "OS::New::Thing"]
    metadefs.delete_association(ADMIN, "ns", "OS::Cinder::Volume", Checks())
    with pytest.raises(NotFound):
        metadefs.delete_association(ADMIN, "ns", "OS::Cinder::Volume", Checks())
    assert [a["name"] for a in metadefs.list_associations(ADMIN, "ns")] == ["OS::New::Thing"]


# -- schema documents ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(metadef_schemas.DOCUMENTS))
def test_schema_documents_are_valid_json_schemas(path: str) -> None:
    document = metadef_schemas.DOCUMENTS[path]()
    jsonschema.Draft4Validator.check_schema(document)
    assert document["name"]


def test_answers_satisfy_the_served_schemas(metadefs: Metadefs) -> None:
    """Clients (python-glanceclient via warlock) validate answers against these documents."""
    created = make(
        metadefs,
        "full",
        description="d",
        display_name="Full",
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "hw_"}],
        properties={"p": {"title": "P", "type": "string", "enum": ["a"]}},
        objects=[{"name": "o", "properties": {"q": {"title": "Q", "type": "boolean"}}}],
        tags=[{"name": "t"}],
    )
    jsonschema.validate(created, metadef_schemas.namespace_schema())
    listed = {"namespaces": metadefs.list_namespaces(ADMIN, {})[0], "first": "/", "schema": "/"}
    jsonschema.validate(listed, metadef_schemas.namespaces_schema())
    items = metadefs.items
    jsonschema.validate(items.show_object(ADMIN, "full", "o"), metadef_schemas.object_schema())
    jsonschema.validate(items.show_property(ADMIN, "full", "p"), metadef_schemas.property_schema())
    jsonschema.validate(items.show_tag(ADMIN, "full", "t"), metadef_schemas.tag_schema())
    association = metadefs.list_associations(ADMIN, "full")[0]
    jsonschema.validate(association, metadef_schemas.resource_type_schema())
