"""PATCH /v2/images/{id} (JSON patch, application/openstack-images-v2.1-json-patch) and the
rules on image attributes at create time (api-ref images-images-v2.inc "Update image",
"Create image"; behaviours the reference leaves open follow glance/api/v2/images.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import IMAGE_PATCH_TYPE, ImageUser, unique

pytestmark = pytest.mark.functional


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_replace_add_remove_core_attributes(image_owner: ImageUser) -> None:
    image = image_owner.create(disk_format="raw", container_format="bare")
    iid = image["id"]
    new_name = unique("img")
    body = _ok(
        image_owner.patch(
            iid,
            [
                {"op": "replace", "path": "/name", "value": new_name},
                {"op": "replace", "path": "/min_disk", "value": 5},
                {"op": "add", "path": "/min_ram", "value": 1024},
                {"op": "replace", "path": "/protected", "value": True},
                {"op": "replace", "path": "/os_hidden", "value": True},
                {"op": "replace", "path": "/visibility", "value": "private"},
                {"op": "replace", "path": "/disk_format", "value": "qcow2"},
                {"op": "replace", "path": "/container_format", "value": "ovf"},
                {"op": "replace", "path": "/tags", "value": ["x", "y"]},
            ],
        )
    )
    # the response is the whole updated image
    assert body["id"] == iid
    assert body["name"] == new_name
    assert body["min_disk"] == 5
    assert body["min_ram"] == 1024
    assert body["protected"] is True
    assert body["os_hidden"] is True
    assert body["visibility"] == "private"
    assert body["disk_format"] == "qcow2"
    assert body["container_format"] == "ovf"
    assert sorted(body["tags"]) == ["x", "y"]
    assert body == image_owner.show(iid)
    assert body["created_at"] == image["created_at"]
    _ok(image_owner.patch(iid, [{"op": "replace", "path": "/protected", "value": False}]))


def test_custom_properties(image_owner: ImageUser) -> None:
    image = image_owner.create(flavor="tiny")
    iid = image["id"]
    assert image["flavor"] == "tiny"
    body = _ok(
        image_owner.patch(
            iid,
            [
                {"op": "add", "path": "/os_distro", "value": "debian"},
                {"op": "add", "path": "/flavor", "value": "large"},  # add replaces (RFC 6902)
                {"op": "add", "path": "/a~1b", "value": "slash"},  # "~1" is "/"
            ],
        )
    )
    assert body["os_distro"] == "debian"
    assert body["flavor"] == "large"
    assert body["a/b"] == "slash"
    body = _ok(image_owner.patch(iid, [{"op": "replace", "path": "/os_distro", "value": "arch"}]))
    assert body["os_distro"] == "arch"
    body = _ok(image_owner.patch(iid, [{"op": "remove", "path": "/os_distro"}]))
    assert "os_distro" not in body
    assert "os_distro" not in image_owner.show(iid)
    # removing or replacing what is not there: 409 (Glance "Property %s does not exist.")
    resp = image_owner.patch(iid, [{"op": "remove", "path": "/os_distro"}])
    assert resp.status_code == 409, resp.text
    resp = image_owner.patch(iid, [{"op": "replace", "path": "/nothing_here", "value": "v"}])
    assert resp.status_code == 409, resp.text


def test_empty_patch_changes_nothing(image_owner: ImageUser) -> None:
    image = image_owner.create()
    assert _ok(image_owner.patch(image["id"], []))["name"] == image["name"]


def test_deprecated_v20_patch_media_type(image_owner: ImageUser) -> None:
    """application/openstack-images-v2.0-json-patch is still accepted (deprecated)."""
    image = image_owner.create()
    new_name = unique("img")
    body = _ok(
        image_owner.patch(
            image["id"],
            [{"replace": "/name", "value": new_name}],
            content_type="application/openstack-images-v2.0-json-patch",
        )
    )
    assert body["name"] == new_name


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json-patch+json", "text/plain"],
)
def test_wrong_content_type_is_415(image_owner: ImageUser, content_type: str) -> None:
    """ "Attempting to make a PATCH call using some other media type will provoke a response
    code of 415 (Unsupported media type).\""""
    image = image_owner.create()
    resp = image_owner.patch(
        image["id"], [{"op": "replace", "path": "/name", "value": "x"}], content_type
    )
    assert resp.status_code == 415, resp.text
    assert image_owner.show(image["id"])["name"] == image["name"]


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "replace", "path": "/name", "value": "not a list"},
        ["not an object"],
        [{"path": "/name", "value": "x"}],  # no op
        [{"op": "move", "from": "/name", "path": "/x"}],
        [{"op": "test", "path": "/name", "value": "x"}],
        [{"op": "replace", "value": "x"}],  # no path
        [{"op": "add", "path": "/color"}],  # no value
        [{"op": "replace", "path": "name", "value": "x"}],  # no leading /
        [{"op": "add", "path": "/a//b", "value": "x"}],
        [{"op": "add", "path": "/color/", "value": "x"}],
        [{"op": "add", "path": "/color/shade", "value": "x"}],  # nested
        [{"op": "add", "path": "/a~2b", "value": "x"}],  # bad escape
        [{"op": "replace", "path": "/min_disk", "value": "big"}],
        [{"op": "replace", "path": "/min_ram", "value": -1}],
        [{"op": "replace", "path": "/protected", "value": "yes"}],
        [{"op": "replace", "path": "/visibility", "value": "everyone"}],
        [{"op": "replace", "path": "/disk_format", "value": "floppy"}],
        [{"op": "replace", "path": "/name", "value": "n" * 256}],
        [{"op": "replace", "path": "/tags", "value": ["t" * 256]}],
        [{"op": "add", "path": "/color", "value": 5}],  # properties are strings
        [{"op": "add", "path": "/color", "value": ["red"]}],
    ],
    ids=lambda ops: json.dumps(ops)[:60],
)
def test_invalid_patch_is_400(image_owner: ImageUser, ops: Any) -> None:
    image = image_owner.create(disk_format="raw", container_format="bare")
    resp = image_owner.patch(image["id"], ops)
    assert resp.status_code == 400, resp.text
    assert image_owner.show(image["id"]) == image


def test_malformed_json_is_400(image_owner: ImageUser) -> None:
    image = image_owner.create()
    resp = image_owner.http.patch(
        f"/images/{image['id']}",
        content=b'[{"op": "replace", "path": "/name", ',
        headers={"Content-Type": IMAGE_PATCH_TYPE},
    )
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(
    "path",
    [
        "/id",
        "/status",
        "/checksum",
        "/size",
        "/virtual_size",
        "/created_at",
        "/updated_at",
        "/os_hash_algo",
        "/os_hash_value",
        "/self",
        "/file",
        "/schema",
        "/direct_url",
    ],
)
def test_read_only_attributes_are_403(image_owner: ImageUser, path: str) -> None:
    """ "Attempting to modify some image properties will cause the entire request to fail with
    a 403 (Forbidden) response code: ... the properties specified as read only in the Image
    Schema"."""
    image = image_owner.create()
    new_name = unique("img")
    for op in ("replace", "add"):
        resp = image_owner.patch(
            image["id"],
            [
                {"op": "replace", "path": "/name", "value": new_name},
                {"op": op, "path": path, "value": "0"},
            ],
        )
        assert resp.status_code == 403, (op, resp.text)
    resp = image_owner.patch(image["id"], [{"op": "remove", "path": path}])
    assert resp.status_code == 403, resp.text
    # the entire request failed: the name did not change either
    assert image_owner.show(image["id"]) == image


@pytest.mark.parametrize("name", ["os_glance_foo", "os_glance_import_task", "location", "deleted"])
def test_reserved_properties_are_403(image_owner: ImageUser, name: str) -> None:
    """ "An attempt to set or modify a property with a reserved name, such as anything
    prefixed with the os_glance namespace" is 403 (Update image); on create, too."""
    image = image_owner.create()
    resp = image_owner.patch(image["id"], [{"op": "add", "path": f"/{name}", "value": "x"}])
    assert resp.status_code == 403, resp.text
    assert name not in image_owner.show(image["id"])
    resp = image_owner.http.post("/images", json={"name": unique("img"), name: "x"})
    assert resp.status_code == 403, resp.text


def test_base_attributes_cannot_be_removed(image_owner: ImageUser) -> None:
    """Glance answers 403 "Property %s may not be removed." for base attributes."""
    image = image_owner.create(min_ram=10)
    for path in ("/name", "/min_ram", "/visibility", "/tags", "/protected"):
        resp = image_owner.patch(image["id"], [{"op": "remove", "path": path}])
        assert resp.status_code == 403, (path, resp.text)
    assert image_owner.show(image["id"]) == image


def test_disk_and_container_format_only_change_while_queued(image_owner: ImageUser) -> None:
    """Glance: "Attribute disk_format can be only replaced for a queued image." (403)."""
    image = image_owner.active_image()
    for path, value in (("/disk_format", "qcow2"), ("/container_format", "ovf")):
        resp = image_owner.patch(image["id"], [{"op": "replace", "path": path, "value": value}])
        assert resp.status_code == 403, (path, resp.text)
    shown = image_owner.show(image["id"])
    assert (shown["disk_format"], shown["container_format"]) == ("raw", "bare")
    # other attributes of an active image can change
    body = _ok(image_owner.patch(image["id"], [{"op": "replace", "path": "/min_disk", "value": 1}]))
    assert body["min_disk"] == 1


def test_patch_of_missing_image_is_404(image_owner: ImageUser) -> None:
    resp = image_owner.patch(str(uuid.uuid4()), [{"op": "replace", "path": "/name", "value": "x"}])
    assert resp.status_code == 404, resp.text


# --- attribute rules at create time -------------------------------------------------------


def test_create_with_all_writable_attributes(image_owner: ImageUser) -> None:
    image_id = str(uuid.uuid4())
    name = unique("img")
    resp = image_owner.http.post(
        "/images",
        json={
            "id": image_id,
            "name": name,
            "container_format": "bare",
            "disk_format": "qcow2",
            "min_disk": 3,
            "min_ram": 256,
            "protected": False,
            "tags": ["one", "two"],
            "visibility": "private",
            "os_hidden": False,
            "hw_disk_bus": "scsi",
        },
    )
    assert resp.status_code == 201, resp.text
    image_owner.janitor.track(image_id)
    body = resp.json()
    # "The Location response header contains the URI for the image."
    assert resp.headers["location"].endswith(f"/v2/images/{image_id}"), resp.headers
    assert body["id"] == image_id
    assert body["status"] == "queued"
    assert (body["name"], body["container_format"], body["disk_format"]) == (name, "bare", "qcow2")
    assert (body["min_disk"], body["min_ram"]) == (3, 256)
    assert sorted(body["tags"]) == ["one", "two"]
    assert body["visibility"] == "private"
    assert body["hw_disk_bus"] == "scsi"
    assert body["owner"] == image_owner.project_id
    assert body["self"] == f"/v2/images/{image_id}"
    assert body["file"] == f"/v2/images/{image_id}/file"
    assert body["schema"] == "/v2/schemas/image"
    for key in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"):
        assert body[key] is None, key
    # "If you specify a value that has already been assigned, the request fails with a 409"
    dup = image_owner.http.post("/images", json={"id": image_id, "name": unique("img")})
    assert dup.status_code == 409, dup.text


def test_create_defaults(image_owner: ImageUser) -> None:
    body = image_owner.create()
    assert body["visibility"] == "shared"
    assert body["protected"] is False
    assert body["os_hidden"] is False
    assert (body["min_disk"], body["min_ram"]) == (0, 0)
    assert body["tags"] == []
    assert body["disk_format"] is None and body["container_format"] is None
    nameless = image_owner.http.post("/images", json={})
    assert nameless.status_code == 201, nameless.text
    image_owner.janitor.track(nameless.json()["id"])
    assert nameless.json()["name"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"status": "active"},
        {"checksum": "0" * 32},
        {"size": 1024},
        {"virtual_size": 1024},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"updated_at": "2020-01-01T00:00:00Z"},
        {"self": "/v2/images/x"},
        {"file": "/v2/images/x/file"},
        {"schema": "/v2/schemas/image"},
        {"direct_url": "file:///etc/passwd"},
    ],
    ids=lambda body: next(iter(body)),
)
def test_create_with_read_only_attribute_is_403(
    image_owner: ImageUser, body: dict[str, Any]
) -> None:
    """Glance: "Attribute '%s' is read-only." (403) for the schema's readOnly attributes."""
    name = unique("img")
    resp = image_owner.http.post("/images", json={"name": name, **body})
    assert resp.status_code == 403, resp.text
    assert image_owner.list_ids(name=name) == []


@pytest.mark.parametrize(
    "body",
    [
        {"id": "not-a-uuid"},
        {"disk_format": "floppy"},
        {"container_format": "crate"},
        {"visibility": "everyone"},
        {"min_disk": "big"},
        {"min_ram": -5},
        {"protected": "yes"},
        {"tags": "one"},
        {"tags": ["t" * 256]},
        {"name": "n" * 256},
        {"k" * 256: "v"},  # "Keys are limited to 255 chars in length."
        {"color": 5},  # "the value must be a string data type"
    ],
    ids=lambda body: json.dumps(body)[:40],
)
def test_create_with_invalid_attribute_is_400(image_owner: ImageUser, body: dict[str, Any]) -> None:
    name = unique("img")
    resp = image_owner.http.post("/images", json={"name": name, **body})
    assert resp.status_code == 400, resp.text
    assert image_owner.list_ids(name=name) == []


def test_create_needs_json(image_owner: ImageUser) -> None:
    resp = image_owner.http.post(
        "/images", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code in (400, 415), resp.text
    resp = image_owner.http.post(
        "/images", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400, resp.text


def test_tags_subresource(image_owner: ImageUser) -> None:
    """PUT/DELETE /v2/images/{id}/tags/{tag}: 204 (Image tags)."""
    image = image_owner.create()
    iid = image["id"]
    assert image_owner.http.put(f"/images/{iid}/tags/alpha").status_code == 204
    assert image_owner.http.put(f"/images/{iid}/tags/beta%20gamma").status_code == 204
    assert image_owner.http.put(f"/images/{iid}/tags/alpha").status_code == 204  # idempotent
    assert sorted(image_owner.show(iid)["tags"]) == ["alpha", "beta gamma"]
    assert image_owner.http.delete(f"/images/{iid}/tags/alpha").status_code == 204
    assert image_owner.show(iid)["tags"] == ["beta gamma"]
    assert image_owner.http.delete(f"/images/{iid}/tags/alpha").status_code == 404
    too_long = image_owner.http.put(f"/images/{iid}/tags/{'t' * 256}")
    assert too_long.status_code == 400, too_long.text
    missing = image_owner.http.put(f"/images/{uuid.uuid4()}/tags/alpha")
    assert missing.status_code == 404, missing.text
