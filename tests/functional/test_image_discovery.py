"""Version discovery, the info calls and the JSON schemas of the image API (api-ref
versions/, v2/discovery.inc, v2/images-schemas.inc), and where the catalog puts the service.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ImageUser, Server

pytestmark = pytest.mark.functional

BASE_PROPERTIES = {
    "checksum", "container_format", "created_at", "disk_format", "file", "id", "min_disk",
    "min_ram", "name", "os_hash_algo", "os_hash_value", "os_hidden", "owner", "protected",
    "schema", "self", "size", "status", "tags", "updated_at", "virtual_size", "visibility",
}  # fmt: skip


def test_catalog_has_the_image_service_at_image(server: Server, image_owner: ImageUser) -> None:
    assert image_owner.image_url == f"{server.base_url}/image"
    services = image_owner.cli_json("catalog", "list")
    image = [s for s in services if s["type"] == "image"]
    assert len(image) == 1, services


def test_version_document(image_owner: ImageUser) -> None:
    """GET / answers 300 Multiple Choices with the versions; a v2 version is CURRENT and its
    link points at <endpoint>/v2/."""
    for url in (image_owner.image_url, image_owner.image_url + "/"):
        resp = httpx.get(url, timeout=30)
        assert resp.status_code == 300, resp.text
        versions = resp.json()["versions"]
        current = [v for v in versions if v["status"] == "CURRENT"]
        assert len(current) == 1, versions
        assert current[0]["id"].startswith("v2.")
        for version in versions:
            assert version["id"].startswith("v2.")
            hrefs = [link["href"] for link in version["links"] if link["rel"] == "self"]
            assert hrefs == [f"{image_owner.image_url}/v2/"], version
        ids = {v["id"] for v in versions}
        assert {"v2.0", "v2.5", "v2.6", "v2.7"} <= ids, ids
    explicit = httpx.get(f"{image_owner.image_url}/versions", timeout=30)
    assert explicit.status_code == 200, explicit.text
    assert explicit.json()["versions"] == resp.json()["versions"]


def test_image_api_needs_a_token(image_owner: ImageUser) -> None:
    resp = httpx.get(f"{image_owner.image_url}/v2/images", timeout=30)
    assert resp.status_code == 401, resp.text
    resp = httpx.get(
        f"{image_owner.image_url}/v2/images", headers={"X-Auth-Token": "bogus"}, timeout=30
    )
    assert resp.status_code == 401, resp.text


def test_info_import(image_owner: ImageUser) -> None:
    resp = image_owner.http.get("/info/import")
    assert resp.status_code == 200, resp.text
    methods = resp.json()["import-methods"]
    assert methods["type"] == "array"
    assert "glance-direct" in methods["value"]
    assert "web-download" not in methods["value"]


def test_info_stores(image_owner: ImageUser) -> None:
    """One store: Glance without multiple stores answers 404 ("Multi backend is not supported
    at this site"); a cloud that lists its stores marks exactly one as the default."""
    resp = image_owner.http.get("/info/stores")
    assert resp.status_code in (200, 404), resp.text
    if resp.status_code == 200:
        stores = resp.json()["stores"]
        assert len(stores) >= 1
        assert all(isinstance(s["id"], str) and s["id"] for s in stores), stores
        assert [s for s in stores if s.get("default") in ("true", True)], stores


def _schema(user: ImageUser, name: str) -> dict[str, Any]:
    resp = user.http.get(f"/schemas/{name}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    return body


def test_image_schema(image_owner: ImageUser) -> None:
    schema = _schema(image_owner, "image")
    assert schema["name"] == "image"
    props = schema["properties"]
    assert set(props) >= BASE_PROPERTIES, sorted(BASE_PROPERTIES - set(props))
    assert schema["additionalProperties"] == {"type": "string"}
    for key in ("checksum", "created_at", "updated_at", "size", "virtual_size", "status", "self"):
        assert props[key].get("readOnly") is True, (key, props[key])
    assert set(props["status"]["enum"]) >= {"queued", "saving", "active", "deactivated"}
    assert set(props["visibility"]["enum"]) == {"public", "private", "shared", "community"}
    assert {"qcow2", "raw", "iso"} <= set(props["disk_format"]["enum"])
    assert {"bare", "ovf"} <= set(props["container_format"]["enum"])
    assert props["name"]["maxLength"] == 255
    links = {link["rel"]: link["href"] for link in schema["links"]}
    assert links == {"self": "{self}", "enclosure": "{file}", "describedby": "{schema}"}


def test_images_schema(image_owner: ImageUser) -> None:
    schema = _schema(image_owner, "images")
    assert schema["name"] == "images"
    item = schema["properties"]["images"]["items"]
    assert set(item["properties"]) >= BASE_PROPERTIES
    assert {"schema", "first", "next"} <= set(schema["properties"])
    rels = {link["rel"] for link in schema["links"]}
    assert {"first", "next", "describedby"} <= rels


def test_member_schemas(image_owner: ImageUser) -> None:
    member = _schema(image_owner, "member")
    assert member["name"] == "member"
    assert {"created_at", "image_id", "member_id", "schema", "status", "updated_at"} <= set(
        member["properties"]
    )
    assert set(member["properties"]["status"]["enum"]) == {"pending", "accepted", "rejected"}
    members = _schema(image_owner, "members")
    assert members["name"] == "members"
    assert members["properties"]["members"]["items"]["name"] == "member"


def test_schemas_with_the_sdk(image_owner: ImageUser) -> None:
    conn = image_owner.sdk()
    assert "visibility" in conn.image.get_image_schema().properties
    assert "members" in conn.image.get_members_schema().properties


def test_unknown_paths_and_methods(image_owner: ImageUser) -> None:
    assert image_owner.http.get("/no-such-thing").status_code == 404
    image = image_owner.create()
    resp = image_owner.http.post(f"/images/{image['id']}", json={})
    assert resp.status_code == 405, resp.text


def test_empty_image_id_is_404(image_owner: ImageUser) -> None:
    """GET/DELETE /v2/images/ (no id) is a missing image, not the list (Tempest:
    ImagesNegativeTest.test_get_image_null_id, test_delete_image_null_id)."""
    for method in ("GET", "DELETE"):
        resp = image_owner.http.request(method, "/images/", follow_redirects=True)
        assert resp.status_code == 404, (method, resp.status_code, resp.text[:300])


def test_image_tasks_when_the_version_is_advertised(image_owner: ImageUser) -> None:
    """GET /v2/images/{id}/tasks exists "Since Image API v2.12": a cloud that advertises
    2.12 or later answers 200 with a (possibly empty) list."""
    versions = httpx.get(image_owner.image_url + "/", timeout=30).json()["versions"]
    minors = [int(v["id"].split(".")[1]) for v in versions if v["id"].startswith("v2.")]
    if max(minors) < 12:
        pytest.skip("the cloud does not advertise Image API 2.12")
    image = image_owner.active_image()
    resp = image_owner.http.get(f"/images/{image['id']}/tasks")
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json()["tasks"], list)
