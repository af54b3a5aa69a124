"""Metadata definitions (api-ref: metadefs-*.inc) against the real server: namespaces and
their visibility between projects, protection, objects, properties, tags, resource types,
the schema documents, and python-glanceclient's metadefs client.

The admin manages definitions; the owner and the other user have the `member` role on a
project of their own and may only read what they can see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import ImageUser, expect, unique

pytestmark = pytest.mark.functional

NS = "/metadefs/namespaces"


@pytest.fixture
def namespaces(image_admin: ImageUser) -> Iterator[list[str]]:
    """Names of namespaces a test created; deleted (unprotected first) when it ends."""
    created: list[str] = []
    yield created
    for name in created:
        with contextlib.suppress(httpx.HTTPError):
            image_admin.http.put(f"{NS}/{name}", json={"namespace": name, "protected": False})
            image_admin.http.delete(f"{NS}/{name}")


def create(
    admin: ImageUser, created: list[str], name: str | None = None, **body: Any
) -> dict[str, Any]:
    name = name or unique("ns")
    created.append(name)
    resp = expect(admin.http.post(NS, json={"namespace": name, **body}), 201)
    assert resp.headers["location"].endswith(f"/v2/metadefs/namespaces/{name}")
    result: dict[str, Any] = resp.json()
    return result


def listed(user: ImageUser, **params: Any) -> list[str]:
    body = expect(user.http.get(NS, params={"limit": 1000, **params}), 200).json()
    assert body["schema"] == "/v2/schemas/metadefs/namespaces"
    return [ns["namespace"] for ns in body["namespaces"]]


def test_namespace_lifecycle(image_admin: ImageUser, namespaces: list[str]) -> None:
    body = create(
        image_admin,
        namespaces,
        display_name="Example",
        description="An example",
        visibility="public",
        protected=True,
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "hw_"}],
        properties={"cpu": {"title": "CPU", "type": "integer", "minimum": 1}},
    )
    name = body["namespace"]
    assert body["owner"] == image_admin.project_id
    assert body["self"] == f"/v2/metadefs/namespaces/{name}"
    assert body["protected"] is True and body["visibility"] == "public"
    assert body["resource_type_associations"][0]["prefix"] == "hw_"
    # 409 for a second namespace of the same name
    expect(image_admin.http.post(NS, json={"namespace": name}), 409)
    shown = expect(
        image_admin.http.get(f"{NS}/{name}", params={"resource_type": "OS::Glance::Image"}), 200
    ).json()
    assert list(shown["properties"]) == ["hw_cpu"]
    assert name in listed(image_admin)
    assert name in listed(image_admin, resource_types="OS::Nova::Flavor,OS::Glance::Image")
    assert name not in listed(image_admin, resource_types="OS::Nova::Flavor")
    # protected: 403 for the delete, 204 once unprotected
    expect(image_admin.http.delete(f"{NS}/{name}"), 403)
    updated = expect(
        image_admin.http.put(
            f"{NS}/{name}", json={"namespace": name, "visibility": "private", "protected": False}
        ),
        200,
    ).json()
    assert updated["visibility"] == "private" and updated["protected"] is False
    assert "description" not in updated  # left out of the body: back to unset
    expect(image_admin.http.delete(f"{NS}/{name}"), 204)
    expect(image_admin.http.get(f"{NS}/{name}"), 404)
    expect(image_admin.http.delete(f"{NS}/{name}"), 404)


def test_visibility_between_projects(
    image_admin: ImageUser,
    image_owner: ImageUser,
    image_other: ImageUser,
    namespaces: list[str],
) -> None:
    public = create(image_admin, namespaces, visibility="public")["namespace"]
    private = create(image_admin, namespaces, owner=image_owner.project_id)["namespace"]
    assert {public, private} <= set(listed(image_owner))
    assert public in listed(image_other) and private not in listed(image_other)
    assert private not in listed(image_other, visibility="private")
    expect(image_owner.http.get(f"{NS}/{private}"), 200)
    expect(image_other.http.get(f"{NS}/{private}"), 404)
    expect(image_other.http.get(f"{NS}/{private}/objects"), 404)
    expect(image_other.http.get(f"{NS}/{public}/objects"), 200)


def test_non_admin_cannot_write(
    image_admin: ImageUser, image_owner: ImageUser, namespaces: list[str]
) -> None:
    name = create(image_admin, namespaces, owner=image_owner.project_id)["namespace"]
    http = image_owner.http
    expect(http.post(NS, json={"namespace": unique("ns")}), 403)
    expect(http.put(f"{NS}/{name}", json={"namespace": name}), 403)
    expect(http.delete(f"{NS}/{name}"), 403)
    expect(http.post(f"{NS}/{name}/objects", json={"name": "o"}), 403)
    prop = {"name": "p", "title": "P", "type": "string"}
    expect(http.post(f"{NS}/{name}/properties", json=prop), 403)
    expect(http.post(f"{NS}/{name}/tags/t"), 403)
    expect(http.post(f"{NS}/{name}/resource_types", json={"name": "OS::Glance::Image"}), 403)
    expect(http.delete(f"{NS}/{name}/tags"), 403)
    # readers still read
    expect(http.get(f"{NS}/{name}/tags"), 200)
    expect(http.get("/metadefs/resource_types"), 200)


def test_objects_properties_tags(image_admin: ImageUser, namespaces: list[str]) -> None:
    name = create(image_admin, namespaces)["namespace"]
    http = image_admin.http
    obj = {"name": "CPU Limits", "properties": {"q": {"title": "Q", "type": "integer"}}}
    created = expect(http.post(f"{NS}/{name}/objects", json=obj), 201).json()
    assert created["self"] == f"/v2/metadefs/namespaces/{name}/objects/CPU Limits"
    expect(http.post(f"{NS}/{name}/objects", json=obj), 409)
    expect(http.post(f"{NS}/{name}/objects", json={"description": "no name"}), 400)
    renamed = expect(
        http.put(f"{NS}/{name}/objects/CPU Limits", json={"name": "Limits"}), 200
    ).json()
    assert renamed["name"] == "Limits" and renamed["properties"] == {}
    expect(http.get(f"{NS}/{name}/objects/CPU Limits"), 404)
    expect(http.delete(f"{NS}/{name}/objects"), 204)
    assert expect(http.get(f"{NS}/{name}/objects"), 200).json()["objects"] == []

    prop = {"name": "hv", "title": "Hypervisor", "type": "string", "enum": ["kvm", "xen"]}
    assert expect(http.post(f"{NS}/{name}/properties", json=prop), 201).json() == prop
    expect(http.post(f"{NS}/{name}/properties", json=prop), 409)
    expect(http.post(f"{NS}/{name}/properties", json={"name": "x", "type": "string"}), 400)
    assert expect(http.get(f"{NS}/{name}/properties/hv"), 200).json() == prop
    changed = {**prop, "title": "Hypervisor type"}
    assert expect(http.put(f"{NS}/{name}/properties/hv", json=changed), 200).json() == changed
    listing = expect(http.get(f"{NS}/{name}/properties"), 200).json()["properties"]
    assert listing == {"hv": {k: v for k, v in changed.items() if k != "name"}}
    expect(http.delete(f"{NS}/{name}/properties/hv"), 204)
    expect(http.delete(f"{NS}/{name}/properties/hv"), 404)

    tags = {"tags": [{"name": "a"}, {"name": "b"}]}
    assert expect(http.post(f"{NS}/{name}/tags", json=tags), 201).json() == tags
    append = {"X-Openstack-Append": "True"}
    expect(http.post(f"{NS}/{name}/tags", json={"tags": [{"name": "a"}]}, headers=append), 409)
    expect(http.post(f"{NS}/{name}/tags", json={"tags": [{"name": "c"}]}, headers=append), 201)
    expect(http.post(f"{NS}/{name}/tags/d"), 201)
    expect(http.post(f"{NS}/{name}/tags/d"), 409)
    expect(http.put(f"{NS}/{name}/tags/d", json={"name": "e"}), 200)
    names = [t["name"] for t in expect(http.get(f"{NS}/{name}/tags"), 200).json()["tags"]]
    assert sorted(names) == ["a", "b", "c", "e"]
    # without the append header, the new tags replace the old
    expect(http.post(f"{NS}/{name}/tags", json={"tags": [{"name": "z"}]}), 201)
    names = [t["name"] for t in expect(http.get(f"{NS}/{name}/tags"), 200).json()["tags"]]
    assert names == ["z"]
    expect(http.delete(f"{NS}/{name}/tags"), 204)
    assert expect(http.get(f"{NS}/{name}/tags"), 200).json()["tags"] == []


def test_resource_type_associations(image_admin: ImageUser, namespaces: list[str]) -> None:
    types = expect(image_admin.http.get("/metadefs/resource_types"), 200).json()
    assert "OS::Glance::Image" in [t["name"] for t in types["resource_types"]]
    name = create(image_admin, namespaces)["namespace"]
    path = f"{NS}/{name}/resource_types"
    body = {"name": "OS::Nova::Flavor", "prefix": "hw:"}
    created = expect(image_admin.http.post(path, json=body), 201).json()
    assert created["name"] == "OS::Nova::Flavor" and created["prefix"] == "hw:"
    expect(image_admin.http.post(path, json=body), 409)
    found = expect(image_admin.http.get(path), 200).json()["resource_type_associations"]
    assert [a["name"] for a in found] == ["OS::Nova::Flavor"]
    expect(image_admin.http.delete(f"{path}/OS::Nova::Flavor"), 204)
    expect(image_admin.http.delete(f"{path}/OS::Nova::Flavor"), 404)


def test_namespace_pages(image_admin: ImageUser, namespaces: list[str]) -> None:
    prefix = unique("page")
    for index in range(5):
        create(image_admin, namespaces, f"{prefix}-{index}")
    seen: list[str] = []
    resp = expect(
        image_admin.http.get(NS, params={"limit": 2, "sort_key": "created_at", "sort_dir": "asc"}),
        200,
    )
    for _ in range(100):
        body = resp.json()
        seen += [n["namespace"] for n in body["namespaces"]]
        assert len(body["namespaces"]) <= 2
        if "next" not in body:
            break
        resp = expect(image_admin.http.get(image_admin.image_url + body["next"]), 200)
    mine = [n for n in seen if n.startswith(prefix)]
    assert mine == [f"{prefix}-{index}" for index in range(5)]
    expect(image_admin.http.get(NS, params={"sort_key": "owner"}), 400)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("tag", "tag"),
        ("tags", "tags"),
    ],
)
def test_schemas(image_other: ImageUser, path: str, name: str) -> None:
    assert expect(image_other.http.get(f"/schemas/metadefs/{path}"), 200).json()["name"] == name


def test_glanceclient_metadefs(image_admin: ImageUser, namespaces: list[str]) -> None:
    """python-glanceclient builds its models from the schemas and validates every answer."""
    glance = image_admin.glance()
    name = unique("gc")
    namespaces.append(name)
    namespace = glance.metadefs_namespace.create(
        namespace=name, display_name="GC", visibility="public", protected=False
    )
    assert namespace["namespace"] == name
    glance.metadefs_resource_type.associate(name, name="OS::Glance::Image", prefix="gc_")
    glance.metadefs_property.create(name, name="speed", title="Speed", type="integer")
    glance.metadefs_object.create(name, name="Box", description="a box")
    list(glance.metadefs_tag.create_multiple(name, tags=["t1", "t2"]))
    shown = glance.metadefs_namespace.get(name)
    assert list(shown["properties"]) == ["speed"]
    assert [o["name"] for o in shown["objects"]] == ["Box"]
    updated = glance.metadefs_namespace.update(name, description="described")
    assert updated["description"] == "described"
    assert name in [n["namespace"] for n in glance.metadefs_namespace.list()]
    assert [p["name"] for p in glance.metadefs_property.list(name)] == ["speed"]
    assert sorted(t["name"] for t in glance.metadefs_tag.list(name)) == ["t1", "t2"]
    associations = list(glance.metadefs_resource_type.get(name))
    assert [a["name"] for a in associations] == ["OS::Glance::Image"]
    assert "OS::Glance::Image" in [t["name"] for t in glance.metadefs_resource_type.list()]
    glance.metadefs_object.delete_all(name)
    assert list(glance.metadefs_object.list(name)) == []
    glance.metadefs_namespace.delete(name)
    assert name not in [n["namespace"] for n in glance.metadefs_namespace.list()]
